"""Refuse Keras model files that run Python code stored in them when they are loaded, unless trusted.

A Keras ``Lambda`` layer is saved with its function's bytecode (marshal), and loading a legacy ``.h5`` file
or a SavedModel folder rebuilds and runs it: a model file can carry any program. tf_keras refuses such layers
only for ``.keras`` files (``safe_mode``). :func:`check_model_file` reads the stored model config — the
``model_config`` attribute of an ``.h5`` file, ``keras_metadata.pb`` of a SavedModel, ``config.json`` of a
``.keras`` archive — as data, without deserialising anything, and names the Lambda layers it finds.
``edgecnn convert --trust-model`` skips the check (and turns tf_keras' ``safe_mode`` off).
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator

from edgecnn.errors import EdgecnnError

CODE_LAYERS = ("Lambda",)  # layer classes whose config holds Python code that runs at load time


def code_layers(path: str | os.PathLike) -> list[str]:
    """Names of the layers in a Keras model file whose loading runs stored Python code (Lambda layers)."""
    names: list[str] = []
    for config in _stored_configs(Path(path)):
        for layer in _layers(config):
            if layer.get("class_name") in CODE_LAYERS:
                inner = layer.get("config") if isinstance(layer.get("config"), dict) else {}
                name = str(inner.get("name") or layer.get("name") or "?")
                if name not in names:  # a SavedModel lists a layer in its model's config and in its own node
                    names.append(name)
    return names


def check_model_file(path: str | os.PathLike, *, trust_model: bool = False) -> None:
    """EdgecnnError naming the first Lambda layer of ``path``, unless ``trust_model``."""
    if trust_model:
        return
    names = code_layers(path)
    if names:
        more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
        raise EdgecnnError(f"{path}: layer '{names[0]}'{more} is a Lambda layer, and loading it runs Python code "
                           "stored in the file; pass --trust-model only if you trust where the file came from")


def _stored_configs(path: Path) -> Iterator[Any]:
    """The JSON configs a Keras file stores, parsed as plain data (nothing is imported or called)."""
    if path.is_dir():
        metadata = path / "keras_metadata.pb"
        if metadata.is_file():
            yield from _saved_model_configs(metadata)
        return
    if zipfile.is_zipfile(path):  # .keras: config.json in a zip archive
        with zipfile.ZipFile(path) as archive:
            if "config.json" in archive.namelist():
                yield _json(archive.read("config.json"), path)
        return
    yield from _h5_configs(path)


def _h5_configs(path: Path) -> Iterator[Any]:
    try:
        import h5py
    except ImportError:  # comes with TensorFlow; without it the file cannot be loaded anyway
        return
    try:
        with h5py.File(path, "r") as f:
            text = f.attrs.get("model_config")
    except OSError:
        return  # not HDF5: the loader reports it
    if text is not None:
        yield _json(text, path)


def _saved_model_configs(metadata: Path) -> Iterator[Any]:
    from tf_keras.protobuf import saved_metadata_pb2

    saved = saved_metadata_pb2.SavedMetadata()
    try:
        saved.ParseFromString(metadata.read_bytes())
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise EdgecnnError(f"{metadata}: unreadable Keras metadata ({exc})") from exc
    for node in saved.nodes:
        if node.metadata:
            yield _json(node.metadata, metadata)


def _json(text: str | bytes, where: Path) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EdgecnnError(f"{where}: the stored Keras model config is not valid JSON ({exc})") from exc


def _layers(config: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a ``class_name`` anywhere in the config (nested models, wrappers, SavedModel nodes)."""
    if isinstance(config, dict):
        if "class_name" in config:
            yield config
        for value in config.values():
            yield from _layers(value)
    elif isinstance(config, list):
        for value in config:
            yield from _layers(value)
