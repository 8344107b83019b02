"""`check --deploy` names a missing compiled part of detection, and is silent when both are built."""

from __future__ import annotations

import importlib.util

import pytest

from detection.checks import compiled_parts_present


def test_both_compiled_parts_are_built_here() -> None:
    assert compiled_parts_present(None) == []


@pytest.mark.parametrize(("missing", "code"), [("detection._jpegdct", "detection.E001"),
                                                ("detection._mih", "detection.E002")])
def test_a_missing_compiled_part_fails_the_deploy_check(monkeypatch: pytest.MonkeyPatch, missing: str,
                                                        code: str) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == missing else real(name, *a))
    [error] = compiled_parts_present(None)
    assert error.id == code and missing in error.msg
