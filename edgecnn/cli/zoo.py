"""``edgecnn models`` and ``edgecnn info``: the model zoo and a per-layer analysis (TensorFlow imported lazily)."""
from __future__ import annotations

import json
from typing import Any

import click


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--set stem=small --set batch_norm=true`` → knob values (JSON-parsed when possible, else strings)."""
    from edgecnn.errors import UsageError

    knobs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set takes KEY=VALUE (e.g. --set stem=small), got {pair!r}")
        try:
            value = json.loads(raw.lower() if raw.lower() in ("true", "false", "null") else raw)
        except json.JSONDecodeError:
            value = raw
        knobs[key.strip()] = value
    return knobs


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="print a JSON list instead of a table")
@click.option("--published", is_flag=True, help="show the registered (published) numbers without building models")
def models_command(as_json: bool, published: bool) -> None:
    """List every model in the zoo with its params and MACs at the canonical (paper) configuration.

    Each model is built once to count its weights and multiply-accumulates (about half a minute for the
    whole zoo); --published skips that and shows the registered reference numbers. Params include the
    BatchNorm moving statistics (Keras' count_params); MACs are for one image.
    """
    from edgecnn.zoo.registry import all_aliases, get_spec, list_models

    names = list_models()
    aliases: dict[str, list[str]] = {}
    for alias, target in all_aliases().items():
        aliases.setdefault(target, []).append(alias)

    rows = []
    if published:
        for name in names:
            spec = get_spec(name)
            rows.append((spec, spec.published_params, spec.published_macs))
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from edgecnn._tf import keras
        from edgecnn.analysis import analyze_model
        from edgecnn.zoo import create_model

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=_stderr_console(), transient=True) as progress:
            task = progress.add_task("building models", total=len(names))
            for name in names:
                progress.update(task, description=f"building {name}")
                analysis = analyze_model(create_model(name))
                rows.append((get_spec(name), analysis.params, analysis.macs))
                keras.backend.clear_session()  # VGG and AlexNet hold hundreds of MB of weights
                progress.advance(task)

    if as_json:
        click.echo(json.dumps([
            {"name": spec.name, "family": spec.family, "params": params, "macs": macs,
             "aliases": sorted(aliases.get(spec.name, [])), "paper": spec.paper,
             "published_params": spec.published_params, "published_macs": spec.published_macs,
             "canonical_input": list(spec.canonical_input), "canonical_classes": spec.canonical_classes,
             "small_input": list(spec.small_input), "min_input": spec.min_input}
            for spec, params, macs in rows
        ], indent=2))
        return

    from rich.table import Table

    from edgecnn.analysis import format_count
    from edgecnn.console import make_console

    headers = ("name", "family", "input", "params", "MACs", "aliases", "paper")
    cells = []
    for spec, params, macs in rows:
        h, w, c = spec.canonical_input
        cells.append((spec.name, spec.family, f"{h}x{w}x{c}", format_count(params), format_count(macs),
                      ", ".join(sorted(aliases.get(spec.name, []))), spec.paper))
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]
    console = make_console()
    # One line per model; only the paper column gives way on a narrow terminal (--json has it whole).
    widths[-1] = max(12, min(widths[-1], console.width - sum(widths[:-1]) - 3 * len(headers) - 1))
    table = Table(title="edgecnn model zoo" + (" (published numbers)" if published else " (canonical config)"))
    for header, width in zip(headers, widths):
        table.add_column(header, justify="right" if header in ("input", "params", "MACs") else "left",
                         width=width, no_wrap=True, overflow="ellipsis")
    for row in cells:
        table.add_row(*row)
    console.print(table)


@click.command("info")
@click.argument("name")
@click.option("--input-size", type=click.IntRange(min=1), default=None, metavar="N",
              help="square input side in pixels (default: the canonical size)")
@click.option("--channels", type=click.IntRange(min=1), default=None, metavar="C",
              help="input channels (default: the canonical ones)")
@click.option("--num-classes", type=click.IntRange(min=1), default=None, metavar="K",
              help="classes (default: the canonical ones)")
@click.option("--width", type=float, default=None, metavar="W", help="channel multiplier of the family")
@click.option("--set", "options", multiple=True, metavar="KEY=VALUE",
              help="any other builder option, e.g. --set stem=small (repeatable)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object instead of a table")
def info_command(name: str, input_size: int | None, channels: int | None, num_classes: int | None,
                 width: float | None, options: tuple[str, ...], as_json: bool) -> None:
    """Per-layer params, MACs and receptive field of model NAME (canonical config by default).

    \b
    Examples:
      edgecnn info resnet18
      edgecnn info resnet18 --input-size 32 --channels 1 --num-classes 10
      edgecnn info vgg16 --set batch_norm=true --json
    """
    knobs = _parse_options(options)
    if width is not None:
        knobs["width"] = width

    from edgecnn.zoo.registry import get_spec, resolve_name  # imports the zoo (and TensorFlow)

    spec = get_spec(resolve_name(name))
    h, w, c = spec.canonical_input
    shape = (input_size or h, input_size or w, channels or c)
    from edgecnn.analysis import analyze_model
    from edgecnn.zoo import create_model

    analysis = analyze_model(create_model(spec.name, shape, num_classes, **knobs))
    if as_json:
        result = analysis.as_json()
        result.update(name=spec.name, family=spec.family, num_classes=num_classes or spec.canonical_classes,
                      knobs={**spec.knobs, **knobs})
        click.echo(json.dumps(result))
        return

    from rich.table import Table

    from edgecnn.analysis import format_count
    from edgecnn.console import make_console

    table = Table(title=f"{spec.name}  input {shape[0]}x{shape[1]}x{shape[2]}", show_footer=True)
    table.add_column("#", justify="right")
    table.add_column("layer", footer="total", no_wrap=True)
    table.add_column("type", overflow="fold")
    table.add_column("output", justify="right", no_wrap=True)
    table.add_column("params", justify="right", footer=f"{analysis.params:,}")
    table.add_column("MACs", justify="right", footer=f"{analysis.macs:,}")
    table.add_column("RF", justify="right")
    for i, layer in enumerate(analysis.layers, start=1):
        rf = layer.receptive_field
        table.add_row(str(i), layer.name, layer.type, "x".join(str(d) for d in layer.output_shape),
                      f"{layer.params:,}" if layer.params else "", f"{layer.macs:,}" if layer.macs else "",
                      str(rf[0]) if rf[0] == rf[1] else f"{rf[0]}x{rf[1]}")
    console = make_console()
    console.print(table)
    console.print(f"{spec.name}: {format_count(analysis.params)} params "
                  f"({analysis.trainable_params:,} trainable), {format_count(analysis.macs)} MACs per image; "
                  f"paper: {spec.paper}")


COMMANDS = [models_command, info_command]
