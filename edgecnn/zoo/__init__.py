"""The model zoo: one file per CNN family, all registered in :mod:`edgecnn.zoo.registry`.

Importing this package imports TensorFlow (through the family modules).
"""
from __future__ import annotations

import importlib

from edgecnn.zoo.registry import ModelSpec, create_model, get_spec, list_models, register_model, resolve_name

# Registration order is the order `edgecnn models` lists: the CNN family tree, oldest first.
FAMILY_MODULES = (
    "simple", "lenet", "alexnet", "vgg", "googlenet", "resnet", "densenet",
    "mobilenet_v1", "mobilenet_v2", "mobilenet_v3", "efficientnet", "convnext",
)

for _module in FAMILY_MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["ModelSpec", "create_model", "get_spec", "list_models", "register_model", "resolve_name"]
