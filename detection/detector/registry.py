"""Architectures by name; operators can plug in their own model by a dotted path in settings (never from a file).

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


class ArchitectureError(ValueError):
    """The configured architecture cannot be found or built."""


def _npr_kwargs_check(kwargs: dict[str, Any]) -> None:
    # A weights file is data from outside: bound what it may ask NPR to allocate (width 10**9 would be a
    # memory bomb before any weight is compared), and refuse keys NPR does not take.
    unknown = set(kwargs) - {"width", "layers"}
    if unknown:
        raise ArchitectureError(f"npr takes width and layers only, not {sorted(unknown)}")
    width = kwargs.get("width", 64)
    if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= MAX_NPR_WIDTH:
        raise ArchitectureError(f"npr width must be an integer from 1 to {MAX_NPR_WIDTH}, got {width!r}")
    layers = kwargs.get("layers", [3, 4])
    if (
        not isinstance(layers, list | tuple)
        or len(layers) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_NPR_BLOCKS for n in layers)
    ):
        raise ArchitectureError(f"npr layers must be two integers from 1 to {MAX_NPR_BLOCKS}, got {layers!r}")


MAX_NPR_WIDTH = 512
MAX_NPR_BLOCKS = 32
KwargsCheck = Callable[[dict[str, Any]], None]
_registry: dict[str, tuple[ArchitectureFactory, KwargsCheck]] = {DEFAULT_ARCHITECTURE: (NPRNet, _npr_kwargs_check)}


def architecture_register(name: str, factory: ArchitectureFactory, kwargs_check: KwargsCheck | None = None) -> None:
    """Register an architecture by name: the only names a weights file may carry. `kwargs_check` raises
    ArchitectureError for arguments the factory must not be given (a weights file's arch_kwargs are data)."""
    _registry[name] = (factory, kwargs_check or (lambda kwargs: None))


def architecture_names() -> list[str]:
    return sorted(_registry)


def architecture_resolve(name: str, *, from_settings: bool = False) -> ArchitectureFactory:
    """A registered name ("npr"); or, only when the operator wrote it in settings or on the command line
    (`from_settings=True`), a dotted path "package.module.Factory" / "package.module:Factory".

    A weights file is never trusted to name code: its `architecture` field may only pick a registered name,
    so a file that says "subprocess:run" or "os:system" is refused before anything is imported.
    """
    if name in _registry:
        return _registry[name][0]
    known = ", ".join(architecture_names())
    if not from_settings:
        raise ArchitectureError(
            f"unknown detector architecture {name!r} (registered: {known}); a dotted path is accepted only "
            "from DETECTOR_ARCHITECTURE, never from a weights file"
        )
    module_name, sep, attribute = name.replace(":", ".").rpartition(".")
    if not sep or not module_name or not attribute:
        raise ArchitectureError(f"unknown detector architecture {name!r} (registered: {known}; or a dotted path)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArchitectureError(f"cannot import {module_name!r} for detector architecture {name!r}") from exc
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ArchitectureError(f"{name!r} is not a callable in {module_name!r}")
    return factory


def architecture_build(name: str, kwargs: dict[str, Any] | None = None, *, from_settings: bool = False) -> nn.Module:
    factory = architecture_resolve(name, from_settings=from_settings)
    kwargs = dict(kwargs or {})
    if name in _registry:
        _registry[name][1](kwargs)
    try:
        model = factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ArchitectureError(f"cannot build {name!r} with {kwargs!r}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise ArchitectureError(f"{name!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model
