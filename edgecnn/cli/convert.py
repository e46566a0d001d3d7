"""``edgecnn convert``: prune / QAT / TFLite variants with an accuracy report (TensorFlow imported lazily)."""
from __future__ import annotations

import click

VARIANT_FLAGS = (("int8", "full integer, int8 input/output (the default)"),
                 ("uint8", "full integer, uint8 input/output"),
                 ("fp16", "float16 weights"),
                 ("dynamic", "int8 weights, float activations (dynamic range)"),
                 ("float32", "plain float32"),
                 ("all", "every variant, one sub-folder each"))


def _variant_options(func):
    for name, text in reversed(VARIANT_FLAGS):
        func = click.option(f"--{name}", f"v_{name}", is_flag=True, help=text)(func)
    return func


@click.command("convert")
@click.argument("source")
@_variant_options
@click.option("--prune", "prune", type=float, default=None, metavar="S",
              help="magnitude-prune to sparsity S in [0, 1) with fine-tuning (e.g. 0.5)")
@click.option("--prune-pattern", default=None, metavar="N:M", help="structured sparsity, e.g. 2:4")
@click.option("--prune-keep", type=click.Choice(["smallest", "first", "none"]), default="smallest", show_default=True,
              help="layers unstructured pruning leaves dense: the smallest (≤ 5%% of the weights, most sensitive), "
                   "the first, or none")
@click.option("--prune-recover", type=float, default=None, metavar="PTS",
              help="if after --epochs the pruned model is more than PTS points of top-1 below the dense one on the "
                   "validation split, prune again from the dense model over twice the epochs, gradually, and keep "
                   "the better [default: 1.0]")
@click.option("--prune-max-epochs", type=int, default=None, metavar="N",
              help="at most N fine-tuning epochs for --prune in all; fewer than 3 × --epochs turns the retry off "
                   "[default: 3 × --epochs]")
@click.option("--qat", is_flag=True, help="quantisation-aware training (prune-preserving with --prune)")
@click.option("--distill", type=float, default=None, metavar="W",
              help="--prune/--qat fine-tune towards the unoptimised model's predictions: W of each target is its "
                   "probabilities, 1-W the label (knowledge distillation) [default: 1 for --prune, 0 for --qat]")
@click.option("--max-drop", type=float, default=None, metavar="PTS",
              help="precision plan: the fastest file within PTS points of float32's top-1 on the validation split "
                   "(full int8, int8 with some layers in float, or float16/float32 if nothing quantised is faster)")
@click.option("--max-drop-margin", type=float, default=None, metavar="SIGMAS",
              help="a file is within --max-drop when its validation drop plus SIGMAS standard errors of that drop "
                   "is, so a drop measured on few images does not pass on luck; 0 compares the drop alone "
                   "[default: 1]")
@click.option("--explain", "explain", is_flag=True,
              help="per-layer error and time of the int8 file vs float32 (table, report JSON, PNG)")
@click.option("--edgetpu", is_flag=True, help="also compile the int8 model for the Coral Edge TPU")
@click.option("--calibration-samples", type=int, default=200, show_default=True,
              help="training images for int8 calibration")
@click.option("--data", default=None, metavar="SRC",
              help="fashion_mnist, digits or an image FOLDER (default: the run's training data)")
@click.option("--epochs", type=int, default=1, show_default=True, help="fine-tuning epochs for --prune/--qat")
@click.option("--limit", type=int, default=None, metavar="N", help="use at most N training images (quick runs)")
@click.option("--eval-limit", type=int, default=None, metavar="N", help="measure accuracy on at most N test images")
@click.option("--scale", type=float, default=None, help="user model input = pixel × scale + offset")
@click.option("--offset", type=float, default=None, help="see --scale")
@click.option("-o", "--output", default=None, metavar="OUT.tflite", help="where the .tflite goes (its folder "
              "gets labels.txt, preprocess.json and the report; with several variants, one sub-folder each)")
@click.option("--report", default=None, metavar="REPORT.json", help="where the JSON report goes")
@click.option("--trust-model", is_flag=True, help="load Lambda layers of a user model (they run Python code "
              "stored in the file); refused by default")
def convert_command(source: str, v_int8: bool, v_uint8: bool, v_fp16: bool, v_dynamic: bool, v_float32: bool,
                    v_all: bool, prune: float | None, prune_pattern: str | None, prune_keep: str,
                    prune_recover: float | None, prune_max_epochs: int | None, qat: bool,
                    distill: float | None, max_drop: float | None, max_drop_margin: float | None,
                    explain: bool, edgetpu: bool,
                    calibration_samples: int, data: str | None, epochs: int, limit: int | None,
                    eval_limit: int | None, scale: float | None, offset: float | None, output: str | None,
                    report: str | None, trust_model: bool) -> None:
    """Convert NAME (its newest run), RUN_DIR or a Keras MODEL_FILE to TFLite and measure every variant.

    \b
    Examples:
      edgecnn convert mobilenet --int8
      edgecnn convert runs/resnet18 --all -o out/resnet18.tflite
      edgecnn convert mobilenet --int8 --prune 0.5 --qat --epochs 2
      edgecnn convert my_model.keras --int8 --data fashion_mnist
      edgecnn convert convnext_tiny --int8 --max-drop 0.5     # fastest file within 0.5 points
      edgecnn convert mobilenet --int8 --explain              # which layers lose accuracy / time

    Accuracy is measured on held-out test images through the LiteRT interpreter, never the Keras model.
    --max-drop chooses on the validation split; the test images only report.
    """
    from edgecnn.errors import UsageError
    from edgecnn.optimize import check_distill, check_prune_recovery  # numpy only: TensorFlow is imported lazily

    chosen = [name for name, flag in (("int8", v_int8), ("uint8", v_uint8), ("float16", v_fp16),
                                      ("dynamic", v_dynamic), ("float32", v_float32), ("all", v_all)) if flag]
    if not chosen:
        chosen = ["int8"]
    if prune is not None and not 0.0 <= prune < 1.0:
        raise UsageError(f"--prune must be in [0, 1) (e.g. 0.5 for half the weights zero), got {prune}")
    if distill is not None:
        check_distill(distill)  # before TensorFlow is imported
    for flag, value in (("--epochs", epochs), ("--calibration-samples", calibration_samples),
                        ("--limit", limit), ("--eval-limit", eval_limit), ("--prune-max-epochs", prune_max_epochs)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be at least 1, got {value}")
    check_prune_recovery(prune_recover, prune_max_epochs, epochs)  # before TensorFlow is imported

    from edgecnn.convert import convert  # TensorFlow is imported only from here on
    from edgecnn.report import print_convert_report

    result = convert(source, chosen, prune=prune, prune_pattern=prune_pattern, prune_keep=prune_keep, qat=qat,
                     edgetpu=edgetpu,
                     calibration_samples=calibration_samples, data=data, epochs=epochs, output=output,
                     report=report, limit=limit, eval_limit=eval_limit, scale=scale, offset=offset,
                     max_drop=max_drop, max_drop_margin=max_drop_margin, explain=explain, trust_model=trust_model,
                     distill=distill,
                     prune_recover=prune_recover, prune_max_epochs=prune_max_epochs,
                     log=lambda message: click.echo(message, err=True))
    print_convert_report(result)
    if result.edgetpu and "error" in result.edgetpu:
        raise click.exceptions.Exit(1)


COMMANDS = [convert_command]
