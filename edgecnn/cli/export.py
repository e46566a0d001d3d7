"""`edgecnn export android`: put a model into the Android demo app's assets."""
from __future__ import annotations

import click


@click.group("export")
def export_group() -> None:
    """Package a model for another platform."""


@export_group.command("android")
@click.argument("source", metavar="NAME|RUN_DIR|MODEL.tflite")
@click.option("--assets", type=click.Path(file_okay=False), default=None,
              help="The app's assets folder [default: android_demo/app/src/main/assets].")
@click.option("--name", default=None, help="The model's name in the app (its asset folder models/NAME/) "
              "[default: the .tflite file name without .tflite]. Exporting a name again replaces that model.")
@click.option("--variant", default=None, help="Which .tflite of a run folder, e.g. int8 or float32 [default: int8 "
              "if there is one].")
@click.option("--preprocess", "preprocess", type=click.Path(dir_okay=False), default=None,
              help="preprocess.json to use [default: the one beside the model].")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="labels.txt to use [default: the one beside the model].")
@click.option("--runs", "runs_root", default="runs", show_default=True, help="Where run folders are.")
def export_android_command(source: str, assets: str | None, name: str | None, variant: str | None,
                           preprocess: str | None, labels: str | None, runs_root: str) -> None:
    """Add a model, with its labels.txt and preprocess.json, to the Android app's model picker.

    SOURCE is a model name (its newest finished run), a run folder or a .tflite file. The three files are
    checked against each other (input shape, dtype, one output per label) and the model is run once
    before anything is written; they then replace the folder models/NAME/ of the app's assets as a whole.
    Other models stay; the app lists them all and shows predictions and latency on the phone.

    \b
      edgecnn export android mobilenet_v2
      edgecnn export android runs/tiny_cnn --variant float32
      edgecnn export android model_int8.tflite --name mine --assets path/to/app/src/main/assets
    """
    from edgecnn.export import export_android

    result = export_android(source, assets, name=name, variant=variant, preprocess=preprocess, labels=labels,
                            runs_root=runs_root)
    click.echo(f"Exported {result['model']} ({result['bytes']:,} bytes; input {result['input']}, "
               f"{result['labels']} labels) as '{result['name']}' to {result['folder']}/: "
               f"{', '.join(result['files'])}")
    click.echo(f"Models in the app: {', '.join(result['models'])}")
    if result["legacy_files"]:
        click.echo(f"Note: {', '.join(result['legacy_files'])} directly in {result['assets']}/ (the old one-model "
                   "layout) are no longer read by the app; delete them.")
    click.echo("Build and run the app from Android Studio (see android_demo/README.md).")


COMMANDS = [export_group]
