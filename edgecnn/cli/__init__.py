"""The ``edgecnn`` command: a click group whose commands live one module per topic in this package.

Each module ``edgecnn/cli/<topic>.py`` exposes ``COMMANDS`` (a list of click commands) and imports
nothing heavy at module level, so ``edgecnn --help`` and ``--version`` answer without TensorFlow.
Errors meant for users (:class:`edgecnn.errors.EdgecnnError`) become one line on stderr and an exit code.
"""
from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import click

from edgecnn import __version__
from edgecnn.errors import EdgecnnError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except EdgecnnError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo("Error: out of memory", err=True)
            ctx.exit(1)
        except Exception as exc:  # last resort: one line, details on request
            if os.environ.get("EDGECNN_DEBUG"):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            click.echo(f"Error: {type(exc).__name__}: {first} (set EDGECNN_DEBUG=1 for a traceback)", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgecnn")
def cli() -> None:
    """CNNs from a Keras definition to a fast, small model on an edge device.

    \b
    train → convert → profile:
      edgecnn train mobilenet
      edgecnn convert mobilenet --int8
      edgecnn profile runs/mobilenet_v2/tflite/mobilenet_v2_int8.tflite
    """


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register_commands()


def main() -> None:
    cli(prog_name="edgecnn")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
