"""``edgecnn train``: train a zoo model on Fashion-MNIST, digits or a folder of images into a run folder."""
from __future__ import annotations

import re
import signal

import click

from edgecnn.errors import UsageError


def _parse_size(value: str | None) -> int | tuple[int, int] | None:
    if value is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX×,]\s*(\d+)\s*)?", value)
    if not match:
        raise UsageError(f"--input-size must be N or HxW (e.g. 32 or 48x64), got {value!r}")
    height = int(match.group(1))
    return height if match.group(2) is None else (height, int(match.group(2)))


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@click.command("train")
@click.argument("model")
@click.option("--data", "data", default="fashion_mnist", show_default=True, metavar="SRC",
              help="fashion_mnist, digits, or a folder with one sub-folder of .jpg/.png images per class.")
@click.option("--epochs", type=click.IntRange(min=1), help="Most epochs to train (default: per model family).")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Images per step, over all GPUs and workers together [default: 128].")
@click.option("--input-size", metavar="N|HxW", help="Model input size [default: the model's small input].")
@click.option("--channels", type=click.Choice(["1", "3"]), help="Input channels [default: the data's].")
@click.option("--width", type=click.FloatRange(min=0, min_open=True), help="Width multiplier of the model (default 1.0; 0.5 for mobilenet_v2 at its small default input).")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, min_open=True),
              help="Adam learning rate [default: 0.001].")
@click.option("--limit", type=click.IntRange(min=1), metavar="N",
              help="Use at most N training images (and N/5 validation and test images): quick experiments.")
@click.option("--seed", type=int, help="Seed of the data split, shuffling and weights [default: 0].")
@click.option("--patience", type=click.IntRange(min=1), metavar="N",
              help="Early stopping: stop after N epochs without a better validation accuracy (the best weights are "
                   "kept) [default: 3]; --patience equal to --epochs trains every epoch.")
@click.option("--max-minutes", type=click.FloatRange(min=0, min_open=True),
              help="Training time budget: stop when one more epoch would overrun it.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), metavar="RUN_DIR",
              help="Run folder [default: runs/MODEL, then runs/MODEL-2, ...].")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run (the one in -o, else the newest of MODEL) from its last epoch.")
@click.option("--distribute", type=click.Choice(["auto", "none", "mirrored", "multi-worker"]), default="auto",
              show_default=True, help="tf.distribute strategy: mirrored = every GPU here; multi-worker = the cluster "
              "in TF_CONFIG; auto = multi-worker if TF_CONFIG names 2+ tasks, else mirrored if 2+ GPUs, else none.")
@click.option("--lr-scaling", type=click.Choice(["none", "linear", "sqrt"]),
              help="Scale --lr with the global batch / 128 [default: none].")
@click.option("--mixed-precision", is_flag=True, help="float16 compute, float32 weights (GPUs only).")
@click.option("--weights", metavar="FILE|imagenet",
              help="Transfer learning from Keras Applications weights (.h5, or imagenet through Keras' cache): "
                   "new head first, then fine-tuning.")
@click.option("--head-epochs", type=click.IntRange(min=1), metavar="N",
              help="With --weights: epochs that train only the new head [default: a third of --epochs].")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def train_command(model: str, data: str, epochs, batch_size, input_size, channels, width, learning_rate, limit, seed,
                  max_minutes, patience, out_dir, resume, distribute, lr_scaling, mixed_precision, weights, head_epochs,
                  quiet) -> None:
    """Train MODEL (see `edgecnn models`) and write a run folder.

    \b
    The run folder holds model.keras, labels.txt, preprocess.json, config.json,
    metrics.json, training_curve.png and checkpoint/ (for --resume after Ctrl-C).
    --batch-size is the global batch, split over all GPUs and workers.
    \b
    Examples:
      edgecnn train mobilenet
      edgecnn train lenet5 --epochs 3 --limit 2000
      edgecnn train resnet18 --data photos/ --input-size 64 --channels 3
      edgecnn train mobilenet --resume
      TF_CONFIG=... edgecnn train resnet18 --distribute multi-worker -o /shared/run
      edgecnn train mobilenet_v2 --data photos/ --weights imagenet
    """
    if head_epochs is not None and weights is None:
        raise UsageError("--head-epochs needs --weights (it is the first phase of transfer learning)")
    size = _parse_size(input_size)
    if not resume:
        # Bad data folders are reported before TensorFlow takes seconds to load.
        from edgecnn.data import describe_source

        describe_source(data)
    import edgecnn._tf  # noqa: F401  (a base install stops here with the name of the [train] extra)

    # `kill` (SIGTERM) stops like Ctrl-C: the last epoch's checkpoint stays and the resume hint is printed.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    from edgecnn.train import train

    result = train(model, data, epochs=epochs, batch_size=batch_size, input_size=size,
                   channels=None if channels is None else int(channels), width=width, learning_rate=learning_rate,
                   out_dir=out_dir, resume=resume, limit=limit, seed=seed, max_minutes=max_minutes, patience=patience,
                   verbose=not quiet, distribute=distribute, lr_scaling=lr_scaling, mixed_precision=mixed_precision,
                   weights=weights, head_epochs=head_epochs)
    if not result.is_chief:
        click.echo(f"{result.run_dir}  written by the chief (this worker trained its share)")
        return
    click.echo(f"{result.run_dir}  test accuracy {result.test_accuracy:.4f}")


COMMANDS = [train_command]
