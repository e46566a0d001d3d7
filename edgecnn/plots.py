"""Figures as PNG files (matplotlib, Agg backend: no display needed): the one way a figure is saved, and the
training curve."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from edgecnn.errors import MissingExtraError
from edgecnn.fileio import atomic_path


def save_png(fig: Any, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` atomically (a reader never sees half a PNG), trimmed to its content."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    return Path(path)


def plot_training_curve(history: Mapping[str, Sequence[float]], path: str | os.PathLike, *,
                        title: str = "", best_epoch: int | None = None) -> Path:
    """Train/validation accuracy (left) and loss (right) per epoch, written atomically to ``path``.

    ``history`` is Keras' ``History.history`` (keys ``accuracy``, ``val_accuracy``, ``loss``, ``val_loss``);
    ``best_epoch`` (1-based) is marked with a dotted line.
    """
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover
        raise MissingExtraError("the training curve", "train", "matplotlib") from exc

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), dpi=100)
    try:
        for ax, metric, label in ((axes[0], "accuracy", "accuracy"), (axes[1], "loss", "loss")):
            for key, name, style in ((metric, "train", "-o"), (f"val_{metric}", "validation", "-s")):
                values = list(history.get(key, []))
                if values:
                    ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=name)
            if best_epoch:
                ax.axvline(best_epoch, linestyle=":", color="grey", label=f"best (epoch {best_epoch})")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            ax.xaxis.get_major_locator().set_params(integer=True)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        save_png(fig, path, dpi=100)
    finally:
        plt.close(fig)
    return Path(path)
