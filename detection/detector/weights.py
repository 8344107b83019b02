"""Weights files: written by training, read only from an operator-configured path after a SHA-256 check.

The file is read once into memory, hashed, and deserialised from those same bytes, so it cannot be
swapped between the check and the load. `torch.load(weights_only=True)` accepts tensors and plain
containers only, never pickled code.

Format (a dict): {"format": WEIGHTS_FORMAT, "architecture": name, "arch_kwargs": {...},
"state_dict": {...}, "meta": {...}}. A bare state_dict (an operator's own checkpoint) is accepted too;
then the architecture and its arguments come from settings.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

WEIGHTS_FORMAT = "takedown-detector-weights/1"
# A weights file larger than this is refused before it is read (the NPR default is a few MB).
MAX_WEIGHTS_BYTES = 2 * 1024**3


class WeightsError(ValueError):
    """The weights file is missing, unverified, corrupt, or does not fit the architecture."""


@dataclass
class WeightsFile:
    sha256: str
    state_dict: dict[str, torch.Tensor]
    architecture: str = ""
    arch_kwargs: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_read(path: str | Path, *, expected_sha256: str) -> WeightsFile:
    expected = expected_sha256.strip().lower()
    if not expected:
        raise WeightsError("no SHA-256 configured for the weights file; refusing to load unverified weights")
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise WeightsError("the configured weights SHA-256 is not 64 hexadecimal characters")
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_WEIGHTS_BYTES:
            raise WeightsError(f"weights file {path} is {size} bytes, over the {MAX_WEIGHTS_BYTES} limit")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise WeightsError(f"weights file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise WeightsError(f"weights path is a directory: {path}") from exc
    except PermissionError as exc:
        raise WeightsError(f"weights file not readable: {path}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise WeightsError(f"weights SHA-256 mismatch for {path}: configured {expected}, file has {actual}")
    try:
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch raises several unrelated types for a corrupt or non-weights file.
        raise WeightsError(f"weights file {path} is not a loadable torch file: {type(exc).__name__}") from exc
    return _weights_parse(payload, actual)


def _weights_parse(payload: object, sha256: str) -> WeightsFile:
    if not isinstance(payload, dict):
        raise WeightsError(f"weights file holds a {type(payload).__name__}, expected a dict")
    if payload.get("format") == WEIGHTS_FORMAT:
        state_dict = payload.get("state_dict")
        architecture = payload.get("architecture", "")
        arch_kwargs = payload.get("arch_kwargs", {})
        meta = payload.get("meta", {})
        if not isinstance(state_dict, dict) or not isinstance(architecture, str):
            raise WeightsError("weights file is missing its state_dict or architecture")
        if not isinstance(arch_kwargs, dict) or not isinstance(meta, dict):
            raise WeightsError("weights file has malformed arch_kwargs or meta")
        return WeightsFile(sha256, state_dict, architecture, arch_kwargs, meta)
    if payload and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items()):
        return WeightsFile(sha256, payload)
    raise WeightsError("weights file is neither a detector weights file nor a bare state_dict")


def weights_write(
    path: str | Path,
    *,
    architecture: str,
    arch_kwargs: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    meta: dict[str, Any],
) -> str:
    """Write a weights file atomically and return its SHA-256 (what the operator puts in settings)."""
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(
        {
            "format": WEIGHTS_FORMAT,
            "architecture": architecture,
            "arch_kwargs": arch_kwargs,
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
            "meta": meta,
        },
        buffer,
    )
    data = buffer.getvalue()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()
