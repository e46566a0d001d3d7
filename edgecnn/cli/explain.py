"""``edgecnn explain``: which layers of a quantised .tflite lose accuracy and time against its float32 twin (TF-free)."""
from __future__ import annotations

import click


@click.command("explain")
@click.argument("quantised", metavar="MODEL_int8.tflite")
@click.option("--float", "float_model", required=True, metavar="MODEL_float32.tflite",
              help="the float32 file converted from the same model (its preprocess.json is used)")
@click.option("--data", default="fashion_mnist", show_default=True, metavar="SRC",
              help="images to compare on: fashion_mnist, digits or an image FOLDER (its validation split is used)")
@click.option("--images", type=int, default=200, show_default=True, help="how many validation images")
@click.option("--timing/--no-timing", default=True, show_default=True,
              help="per-layer time of both files from the op profiler")
@click.option("--top", type=int, default=15, show_default=True, help="rows in the table (all are in --report)")
@click.option("--report", default=None, metavar="OUT.json", help="write the whole explanation as JSON")
@click.option("--plot", default=None, metavar="OUT.png", help="write error (and time) by layer depth as a PNG")
def explain_cmd(quantised: str, float_model: str, data: str, images: int, timing: bool, top: int,
                report: str | None, plot: str | None) -> None:
    """Per-layer error of MODEL_int8.tflite against MODEL_float32.tflite on real images, and per-layer time.

    \b
    Examples:
      edgecnn explain runs/convnext_tiny/tflite/int8/convnext_tiny_int8.tflite \\
                      --float runs/convnext_tiny/tflite/float32/convnext_tiny_float32.tflite
      edgecnn explain m_int8.tflite --float m_float32.tflite --data photos/ --report why.json --plot why.png

    Layers are ranked by the error their own quantisation makes (layer SNR, lowest first); the accumulated
    SNR and the time as int8 and as float32 stand beside it. No TensorFlow needed.
    """
    from edgecnn.data import load_dataset
    from edgecnn.errors import UsageError
    from edgecnn.preprocess import spec_beside
    from edgecnn.layer_error import explain, plot_explanation, print_explanation

    if images < 1:
        raise UsageError(f"--images must be at least 1, got {images}")
    if top < 1:
        raise UsageError(f"--top must be at least 1, got {top}")
    spec = spec_beside(float_model)
    dataset = load_dataset(data, spec)
    pool = dataset.x_val if len(dataset.x_val) else dataset.x_test
    result = explain(quantised, float_model, pool, spec, timing=timing, max_images=images)
    print_explanation(result, top=top)
    if report:
        from edgecnn.fileio import write_json

        write_json(report, result.to_json())
        click.echo(f"report: {report}")
    if plot:
        plot_explanation(result, plot, title=f"{quantised}: quantisation error by layer")
        click.echo(f"plot: {plot}")


COMMANDS = [explain_cmd]
