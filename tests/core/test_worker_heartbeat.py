"""/healthz shows the detector the worker really has, and judges liveness from worker heartbeats.

The five setups below once made /healthz say "on" while the worker's detector was off. Each is now "off" with the
reason, both in-process (tests run tasks in-process, as `./run` does) and as a worker's heartbeat reports it.
"""

from __future__ import annotations

import datetime
import hashlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import pytest
import torch
from django.test import Client
from django.utils import timezone

from detection.detector.npr import NPRNet
from detection.detector.weights import weights_write
from detection.services import detector_current
from takedown.celery import app
from takedown.core.heartbeat import heartbeat_report_once
from takedown.core.models import WorkerHeartbeat

TINY = {"width": 4, "layers": [1, 1]}


@pytest.fixture(autouse=True)
def _fresh_detector() -> Iterator[None]:
    detector_current.cache_clear()
    yield
    detector_current.cache_clear()


def _weights(tmp_path: Path) -> tuple[Path, str]:
    torch.manual_seed(0)
    path = tmp_path / "w.pt"
    sha = weights_write(path, architecture="npr", arch_kwargs=TINY, state_dict=NPRNet(**TINY).state_dict(), meta={})
    return path, sha


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pickled code ran",))


def _truncated(settings, tmp_path: Path) -> str:
    path, _ = _weights(tmp_path)
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(path), hashlib.sha256(data).hexdigest()
    return "not a loadable torch file"


def _pickle(settings, tmp_path: Path) -> str:
    path = tmp_path / "evil.pt"
    buffer = io.BytesIO()
    torch.save({"format": "takedown-detector-weights/1", "architecture": "npr", "state_dict": _Payload()}, buffer)
    path.write_bytes(buffer.getvalue())
    settings.DETECTOR_WEIGHTS = str(path)
    settings.DETECTOR_WEIGHTS_SHA256 = hashlib.sha256(buffer.getvalue()).hexdigest()
    return "not a loadable torch file"


def _wrong_kwargs(settings, tmp_path: Path) -> str:
    path, sha = _weights(tmp_path)
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(path), sha
    settings.DETECTOR_ARCH_KWARGS = '{"width": 8}'
    return "do not fit"


def _cuda_without_cuda(settings, tmp_path: Path) -> str:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path, sha = _weights(tmp_path)
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(path), sha
    settings.DETECTOR_DEVICE = "cuda"
    return "CUDA is not available"


def _threshold(settings, tmp_path: Path) -> str:
    path, sha = _weights(tmp_path)
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(path), sha
    settings.DETECTOR_THRESHOLD = 1.5
    return "threshold must be between 0 and 1"


CASES: dict[str, Callable[..., str]] = {
    "truncated file pinned with its own SHA": _truncated,
    "pickle payload": _pickle,
    "wrong kwargs": _wrong_kwargs,
    "cuda without CUDA": _cuda_without_cuda,
    "threshold 1.5": _threshold,
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_healthz_says_off_with_the_reason_in_process(case: str, settings, tmp_path: Path, capsys) -> None:
    reason = CASES[case](settings, tmp_path)
    response = Client().get("/healthz")
    detector = response.json()["checks"]["detector"]
    assert detector["state"] == "off" and reason in detector["reason"], detector
    assert detector["ok"] is False and detector["reported_at"]
    # Informational: the rest of the platform still works, so the answer stays 200.
    assert response.status_code == 200
    assert "pickled code ran" not in capsys.readouterr().out


@pytest.fixture
def broker_mode() -> Iterator[None]:
    """Health as a deployment with a broker sees it (the broker itself answering)."""
    app.conf.task_always_eager = False
    try:
        with mock.patch("takedown.core.health.check_broker") as broker:
            from takedown.core.health import CheckResult

            broker.return_value = CheckResult(True, {"mode": "broker"})
            yield
    finally:
        app.conf.task_always_eager = True


@pytest.mark.django_db
@pytest.mark.parametrize("case", list(CASES))
def test_the_gpu_worker_heartbeat_reports_off_with_the_reason(
    case: str, settings, tmp_path: Path, broker_mode: None
) -> None:
    reason = CASES[case](settings, tmp_path)
    heartbeat_report_once(hostname="worker@gpu", queues=["gpu"], started_at=timezone.now())
    heartbeat_report_once(hostname="worker@cpu", queues=["default"], started_at=timezone.now())
    body = Client().get("/healthz").json()
    detector = body["checks"]["detector"]
    assert detector["state"] == "off" and reason in detector["reason"]
    assert detector["reported_by"].startswith("worker@gpu/") and detector["reported_at"]
    assert body["status"] == "ok" and body["checks"]["workers"]["ok"] is True


@pytest.mark.django_db
def test_a_loaded_detector_is_reported_with_device_precision_threshold_and_calibration(
    settings, tmp_path: Path, broker_mode: None
) -> None:
    path, sha = _weights(tmp_path)
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256, settings.DETECTOR_DEVICE = str(path), sha, "cpu"
    heartbeat_report_once(hostname="worker@gpu", queues=["default", "gpu"], started_at=timezone.now())
    detector = Client().get("/healthz").json()["checks"]["detector"]
    assert detector["state"] == "on" and detector["device"] == "cpu" and detector["precision"] == "fp32"
    # No calibration in these weights: on, but its scores are not evidence, and it says so.
    assert detector["calibration"] is None and "uncalibrated" in detector["reason"]
    assert detector["weights_sha256"] == sha


@pytest.mark.django_db
def test_healthz_is_unavailable_with_the_broker_up_and_no_live_worker(settings, broker_mode: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"]["ok"] is False and "no live worker" in body["checks"]["workers"]["reason"]
    assert body["checks"]["detector"]["state"] == "unknown"
    # A worker that stopped reporting is not live.
    heartbeat_report_once(hostname="worker@cpu", queues=["default"], started_at=timezone.now())
    WorkerHeartbeat.objects.update(reported_at=timezone.now() - datetime.timedelta(seconds=120))
    body = Client().get("/healthz").json()
    assert body["status"] == "unavailable" and body["checks"]["workers"]["stale"] == 1
    heartbeat_report_once(hostname="worker@cpu", queues=["default"], started_at=timezone.now())
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json()["checks"]["workers"]["live"][0]["queues"] == ["default"]
    assert response.json()["checks"]["workers"]["queues_without_live_worker"] == ["gpu"]


def test_a_threshold_outside_0_1_is_a_startup_warning(settings) -> None:
    from django.core.checks import run_checks

    settings.DETECTOR_THRESHOLD = 1.5
    assert "takedown.W001" in [message.id for message in run_checks()]
    settings.DETECTOR_THRESHOLD = None
    assert "takedown.W001" not in [message.id for message in run_checks()]
