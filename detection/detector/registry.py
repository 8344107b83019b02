"""Architectures by name, so operators can plug in their own model by a dotted path in settings.

An architecture is any callable that takes keyword arguments and returns a `torch.nn.Module` mapping a
float batch Nx3x224x224 in [0, 1] (RGB) to logits shaped N or Nx1 (P(generated) = sigmoid), or Nx2
(P(generated) = softmax[:, 1]).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from torch import nn

from detection.detector.npr import NPRNet

ArchitectureFactory = Callable[..., nn.Module]

DEFAULT_ARCHITECTURE = "npr"
_registry: dict[str, ArchitectureFactory] = {DEFAULT_ARCHITECTURE: NPRNet}


class ArchitectureError(ValueError):
    """The configured architecture cannot be found or built."""


def architecture_register(name: str, factory: ArchitectureFactory) -> None:
    _registry[name] = factory


def architecture_names() -> list[str]:
    return sorted(_registry)


def architecture_resolve(name: str) -> ArchitectureFactory:
    """A registered name ("npr"), or a dotted path "package.module.Factory" / "package.module:Factory"."""
    if name in _registry:
        return _registry[name]
    module_name, sep, attribute = name.replace(":", ".").rpartition(".")
    if not sep or not module_name or not attribute:
        known = ", ".join(architecture_names())
        raise ArchitectureError(f"unknown detector architecture {name!r} (registered: {known}; or a dotted path)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArchitectureError(f"cannot import {module_name!r} for detector architecture {name!r}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ArchitectureError(f"{name!r} is not a callable in {module_name!r}")
    return factory


def architecture_build(name: str, kwargs: dict[str, Any] | None = None) -> nn.Module:
    factory = architecture_resolve(name)
    try:
        model = factory(**(kwargs or {}))
    except TypeError as exc:
        raise ArchitectureError(f"cannot build {name!r} with {kwargs!r}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ArchitectureError(f"{name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model
