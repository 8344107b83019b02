import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from detection.detector.interface import DisabledDetector
from detection.services import detector_config, detector_current, detector_weights_check

Folders = Callable[..., tuple[Path, Path]]


@pytest.fixture(autouse=True)
def _fresh_detector() -> None:
    detector_current.cache_clear()


def test_healthz_says_the_detector_is_off_without_weights(db: None) -> None:
    body = Client().get("/healthz").json()
    # Off by configuration is healthy, and says so.
    assert body["status"] == "ok" and body["checks"]["detector"]["ok"] is True
    assert body["checks"]["detector"]["state"] == "off"
    assert "DETECTOR_WEIGHTS" in body["checks"]["detector"]["reason"]
    assert isinstance(detector_current(), DisabledDetector)


def test_health_checks_the_weights_hash(settings, tiny_weights: tuple[Path, str]) -> None:
    path, sha = tiny_weights
    settings.DETECTOR_WEIGHTS = str(path)
    settings.DETECTOR_WEIGHTS_SHA256 = "0" * 64
    ok, info = detector_weights_check()
    assert not ok and "does not match" in info["weights"]
    settings.DETECTOR_WEIGHTS_SHA256 = sha
    ok, info = detector_weights_check()
    assert ok and info["weights_sha256"] == sha
    settings.DETECTOR_DEVICE = "cpu"
    assert detector_current().status.enabled


def test_bad_arch_kwargs_setting_turns_the_detector_off(settings, tmp_path: Path) -> None:
    settings.DETECTOR_WEIGHTS = str(tmp_path / "weights.pt")  # configured: the settings are read, and refused
    settings.DETECTOR_ARCH_KWARGS = "[1, 2]"
    assert "JSON object" in detector_current().status.reason
    settings.DETECTOR_ARCH_KWARGS = '{"width": 8}'
    assert detector_config().arch_kwargs == {"width": 8}


def test_train_and_eval_commands(image_folders: Folders, tmp_path: Path) -> None:
    real, fake = image_folders(6, 6)
    out = io.StringIO()
    weights = tmp_path / "m.pt"
    common = ["--real", str(real), "--fake", str(fake), "--no-progress"]
    call_command(
        "detector_train",
        *common,
        "--out",
        str(weights),
        "--epochs",
        "1",
        "--crop",
        "32",
        "--width",
        "4",
        "--device",
        "cpu",
        stdout=out,
    )
    sha = out.getvalue().split("DETECTOR_WEIGHTS_SHA256=")[1].split()[0]
    report = io.StringIO()
    call_command(
        "detector_eval",
        *common,
        "--weights",
        str(weights),
        "--sha256",
        sha,
        "--bootstrap",
        "50",
        "--json",
        str(tmp_path / "e.json"),
        stdout=report,
    )
    assert "auc" in report.getvalue() and "false_positive_rate" in report.getvalue()
    assert json.loads((tmp_path / "e.json").read_text())["weights_sha256"] == sha
    with pytest.raises(CommandError, match="mismatch"):
        call_command("detector_eval", *common, "--weights", str(weights), "--sha256", "1" * 64, stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a folder"):
        call_command("detector_train", "--real", str(tmp_path / "x"), "--fake", str(fake), "--out", str(weights))
