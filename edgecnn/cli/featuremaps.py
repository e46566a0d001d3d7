"""`edgecnn featuremaps`: draw what a trained CNN's layers compute for one image."""
from __future__ import annotations

import click


@click.command("featuremaps")
@click.argument("model")
@click.argument("image", type=click.Path(dir_okay=True, path_type=str))
@click.option("--layer", "layers", multiple=True, metavar="NAME",
              help="Layer to draw (repeatable). Default: the first conv layer and one deep conv layer.")
@click.option("-o", "--output", default=None, metavar="PNG",
              help="Where to write the grid (default: <image name>_featuremaps.png).")
@click.option("--runs-dir", default="runs", show_default=True, help="Where run folders live.")
@click.option("--max-channels", default=32, show_default=True, type=click.IntRange(1, 256),
              help="Channels shown per layer (the most active ones).")
def featuremaps(model: str, image: str, layers: tuple[str, ...], output: str | None, runs_dir: str,
                max_channels: int) -> None:
    """Draw the activations of layers of a trained MODEL (a name → its newest run, or a run folder) for IMAGE.

    \b
      edgecnn featuremaps mobilenet_v2 shoe.png -o grid.png
      edgecnn featuremaps runs/lenet5-2 shoe.png --layer conv1 --layer conv2
    """
    from pathlib import Path

    from edgecnn.featuremaps import feature_maps

    out = output or f"{Path(image).stem}_featuremaps.png"
    result = feature_maps(model, image, layers=list(layers) or None, out=out, root=runs_dir,
                          max_channels=max_channels)
    shapes = ", ".join(f"{name} {'×'.join(map(str, shape))}" for name, shape in result.shapes.items())
    guess = f"; predicted {result.prediction[0]} ({result.prediction[1]:.0%})" if result.prediction else ""
    click.echo(f"{result.path}: {shapes} (run {result.run_dir}){guess}")


COMMANDS = [featuremaps]
