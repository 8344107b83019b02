from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.apps import AppConfig


def pause_point(name: str) -> None:
    root = os.environ.get("FAULT_DIR")
    if not root:
        return
    hold = Path(root) / f"hold-{name}"
    if not hold.exists():
        return
    marker = Path(root) / f"at-{name}"
    marker.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while hold.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def _after(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        pause_point(name)
        return result

    return wrapper


class FaultAppConfig(AppConfig):
    name = "tests.reliability.faultapp"
    label = "faultapp"

    def ready(self) -> None:
        from argon2 import PasswordHasher

        from takedown.remedies import services as remedies
        from victims import credentials, hashbank, services

        # "hash": the worker computed an intake image's hashes and has not stored them yet.
        hashbank.image_hashes = _after("hash", hashbank.image_hashes)  # type: ignore[method-assign]
        # "web": the web process wrote the encrypted evidence file, inside the report's open transaction.
        services.evidence_put = _after("web", services.evidence_put)  # type: ignore[attr-defined]
        # "email": the worker handed a removal request to the mail server and has not recorded it as sent.
        remedies._email_send = _after("email", remedies._email_send)  # type: ignore[attr-defined]
        # Production argon2 costs about a second per report here; its parameters are tested elsewhere.
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        credentials._hasher = lambda: cheap  # type: ignore[method-assign]
        credentials._decoy_hash.cache_clear()
