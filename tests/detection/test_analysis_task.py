"""Detector and provenance analysis of stored case images: scheduled after intake and partner feedback through the
outbox, run by `detection.images_analyse` on the `gpu` queue, stored in CaseImage.analysis, idempotent."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from detection.detector.runtime import DetectorConfig, detector_load
from detection.services import detector_current
from detection.verdict import image_analyse
from takedown.cases.models import Case, CaseImage, CaseStatus
from takedown.cases.services import (
    ANALYSE_TASK,
    INTAKE_NOTE,
    case_images_analyse,
    case_images_analysis_schedule,
    verdict_part,
)
from takedown.core.audit import Actor
from takedown.core.evidence import evidence_delete, evidence_get, evidence_put
from takedown.core.models import AuditEvent, OutboxMessage
from tests.conftest import draw_image
from tests.detection.detection_images import png_bytes, upsampled_image
from tests.remedies.factory import case_make, image_add
from victims.images import image_inspect
from victims.services import UploadedImage, case_process, case_withdraw, report_submit

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def storage(settings: Any, tmp_path: Path) -> None:
    settings.STORAGE_ROOT = tmp_path / "storage"


@pytest.fixture(autouse=True)
def fresh_detector() -> Any:
    detector_current.cache_clear()
    yield
    detector_current.cache_clear()


@pytest.fixture
def detector_on(settings: Any, calibrated_weights: Any) -> str:
    """A tiny randomly initialised NPR model with a calibration record, its weights file written by the fixture and
    its SHA-256 configured."""
    path, sha = calibrated_weights([0.2] * 100)
    settings.DETECTOR_WEIGHTS = str(path)
    settings.DETECTOR_WEIGHTS_SHA256 = sha
    settings.DETECTOR_THRESHOLD = 0.5
    return sha


@pytest.fixture
def detector_off(settings: Any) -> None:
    settings.DETECTOR_WEIGHTS = ""
    settings.DETECTOR_WEIGHTS_SHA256 = ""


def _submit(*files: bytes) -> Case:
    uploads = [UploadedImage(data=data, inspected=image_inspect(data, max_bytes=20 * 1024 * 1024)) for data in files]
    from takedown.cases.locations import url_normalise

    submitted = report_submit(content_kind="deepfake", urls=[url_normalise("https://pics.example.com/a/1")],
                              description="Drawn shapes standing in for a report.", signature="J. Doe",
                              contact="", good_faith=True, images=uploads)
    return Case.objects.get(id=submitted.case.id)


def settings_storage() -> str:
    from django.conf import settings

    return str(settings.STORAGE_ROOT)


def _analysis(image: CaseImage) -> dict[str, Any]:
    assert isinstance(image.analysis, dict), image.analysis
    return image.analysis


def _analysed_events(case: Case) -> int:
    return AuditEvent.objects.filter(case_id=case.id, action="image.analysed").count()


def test_intake_schedules_analysis_and_stores_the_detectors_real_score(settings: Any, detector_on: str) -> None:
    watermarked = (FIXTURES / "wm_sdxl_bgr.png").read_bytes()
    case = _submit(png_bytes(upsampled_image(5, (256, 256))), watermarked)
    # Scheduled through the outbox, on the gpu queue, after intake's hashing (eager in tests: it has run).
    messages = OutboxMessage.objects.filter(task=ANALYSE_TASK)
    assert [m.queue for m in messages] == ["gpu"] and messages[0].dispatched_at is not None
    images = list(case.images.order_by("created_at"))
    assert sorted(messages[0].kwargs["image_ids"]) == sorted(str(i.id) for i in images)
    reference = detector_load(DetectorConfig(weights_path=settings.DETECTOR_WEIGHTS, weights_sha256=detector_on,
                                             threshold=0.5), strict=True)
    for image in images:
        analysis = _analysis(image)
        # The bank's lookup result, written by intake, is kept beside the verdict.
        assert analysis["bank"]["matches"] == []
        detector = analysis["detector"]
        assert detector["status"]["enabled"] is True and detector["status"]["weights_sha256"] == detector_on
        # The stored score is the model's output on the stored file, not something made up.
        expected = image_analyse(evidence_get(image.blob_name), detector=reference).as_dict()
        assert detector["score"] == expected["detector"]["score"] and 0.0 <= detector["score"] <= 1.0
        assert any(reason.startswith(f"detector {detector['score']:.2f}") for reason in analysis["reasons"])
        assert INTAKE_NOTE in analysis["provenance"]["skipped"]
    # Metadata is stripped at intake (after provenance was read from the original), but the pixel-level Stable
    # Diffusion watermark survives and is decoded.
    marked = _analysis(images[1])
    assert marked["label"] == "generated" and marked["supports_digital_forgery"] is True
    assert any("watermark" in reason.lower() for reason in marked["reasons"])
    assert _analysed_events(case) == 2


def test_analysis_is_idempotent(detector_on: str) -> None:
    case = _submit(draw_image(1), draw_image(2))
    images = list(case.images.order_by("created_at"))
    before = {image.id: image.analysis for image in images}
    events = _analysed_events(case)
    result = case_images_analyse(image_ids=[image.id for image in images])
    assert result.analysed == 2 and result.changed == 0
    assert {image.id: image.analysis for image in case.images.all()} == before
    assert _analysed_events(case) == events == 2
    # Processing the case again (the intake task redelivered) queues no second analysis: the verdicts are current.
    queued = OutboxMessage.objects.filter(task=ANALYSE_TASK).count()
    case_process(case_id=case.id)
    assert OutboxMessage.objects.filter(task=ANALYSE_TASK).count() == queued


def test_new_weights_make_old_verdicts_stale(settings: Any, detector_off: None, tiny_weights: tuple[Path, str]) -> None:
    case = _submit(draw_image(3))
    image = case.images.get()
    assert _analysis(image)["detector"]["score"] is None
    # The operator configures weights; the next trigger (here: intake processing again) re-analyses.
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(tiny_weights[0]), tiny_weights[1]
    detector_current.cache_clear()
    case_process(case_id=case.id)
    image.refresh_from_db()
    assert _analysis(image)["detector"]["status"]["enabled"] is True
    assert isinstance(_analysis(image)["detector"]["score"], float)


def test_detector_off_still_gives_provenance_and_says_it_is_off(detector_off: None) -> None:
    case = _submit(draw_image(4), (FIXTURES / "wm_sdxl_bgr.png").read_bytes())
    plain, marked = case.images.order_by("created_at")
    assert _analysis(plain)["label"] == "undetermined" and _analysis(plain)["supports_digital_forgery"] is False
    assert _analysis(plain)["detector"]["score"] is None
    assert _analysis(plain)["detector"]["status"]["enabled"] is False
    assert _analysis(plain)["reasons"][0] == (
        "detector off: no weights configured (DETECTOR_WEIGHTS is empty): the detector is off")
    # Provenance still counts without the detector.
    assert _analysis(marked)["label"] == "generated"
    assert _analysis(marked)["detector"]["score"] is None


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns; the detector refuses
def test_hostile_stored_file_gives_an_unreadable_signal_not_a_crash(detector_on: str) -> None:
    case = case_make(images=0)
    bomb = io.BytesIO()
    Image.new("1", (12_000, 8_000)).save(bomb, "PNG")  # 96 megapixels in a few kilobytes
    files = [
        draw_image(5, fmt="JPEG")[:300],  # cut short
        b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x0dIHDR" + b"\xff" * 64,  # a broken header
        b"\xff\xd8\xff\xeb\x00\x40JP\x00\x00\x00\x01\x00\x00\x00\x38jumb" + b"\xff" * 40 + b"\xff\xd9",  # fake C2PA box
        bomb.getvalue(),
    ]
    hostile = [image_add(case, data=draw_image(6)) for _ in files]
    for image, data in zip(hostile, files, strict=True):
        image.blob_name = evidence_put(data)
        image.save(update_fields=["blob_name"])
    good = image_add(case, data=draw_image(7))
    result = case_images_analyse(image_ids=[image.id for image in (*hostile, good)])
    assert result.analysed == 5 and result.changed == 5
    for image in hostile:
        image.refresh_from_db()
        analysis = _analysis(image)
        assert analysis["label"] == "undetermined" and analysis["supports_digital_forgery"] is False
        assert analysis["provenance"]["unreadable"], analysis
        assert any(reason.startswith("unreadable:") for reason in analysis["reasons"])
        assert analysis["detector"]["score"] is None and analysis["detector"]["error"]
    # The good image in the same batch was scored all the same.
    good.refresh_from_db()
    assert isinstance(_analysis(good)["detector"]["score"], float)


def test_missing_or_undecryptable_file_stores_nothing_and_is_retried_later(detector_on: str) -> None:
    case = case_make(images=2)
    image, altered = case.images.order_by("created_at")
    data = evidence_get(image.blob_name)
    evidence_delete(image.blob_name)
    # The other file was altered on disk (or written under a key since removed): it no longer decrypts.
    blob = next(Path(settings_storage()).rglob(uuid.UUID(altered.blob_name).hex))
    blob.write_bytes(blob.read_bytes()[:-1] + b"\x00")
    result = case_images_analyse(image_ids=[image.id, altered.id])
    image.refresh_from_db()
    altered.refresh_from_db()
    assert result.unreadable_files == 2 and result.analysed == 0
    assert image.analysis is None and altered.analysis is None
    # Both stay due: once a file is back (a restored backup), scheduling analyses it; the other still waits.
    image.blob_name = evidence_put(data)
    image.save(update_fields=["blob_name"])
    assert case_images_analysis_schedule(case_ids=[case.id]) == 2
    image.refresh_from_db()
    altered.refresh_from_db()
    assert _analysis(image)["label"] in ("no_evidence_of_generation", "likely_generated")
    assert altered.analysis is None


def test_withdrawn_case_is_not_analysed(detector_on: str, monkeypatch: pytest.MonkeyPatch) -> None:
    case = _submit(draw_image(8))
    image = case.images.get()
    # Withdrawal lands while the worker is scoring: the result must not be written back.
    import detection.verdict as verdict_module

    real = verdict_module.images_analyse

    def withdraw_midway(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        case_withdraw(case=Case.objects.get(id=case.id))
        return out

    CaseImage.objects.filter(id=image.id).update(analysis=None)
    monkeypatch.setattr(verdict_module, "images_analyse", withdraw_midway)
    result = case_images_analyse(image_ids=[image.id])
    image.refresh_from_db()
    assert result.changed == 0 and image.analysis is None and image.state == CaseImage.State.DELETED
    assert case_images_analysis_schedule(case_ids=[case.id]) == 0


def test_images_are_batched_and_scored_in_one_detector_call(
    settings: Any, detector_on: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DETECTOR_BATCH_SIZE = 2
    case = case_make(images=3, status=CaseStatus.IN_REVIEW)
    calls: list[int] = []
    detector = detector_current()
    real_score = detector.score

    def counting(images: Any) -> Any:
        calls.append(len(images))
        return real_score(images)

    monkeypatch.setattr(detector, "score", counting)
    from django.db import transaction

    with transaction.atomic():
        assert case_images_analysis_schedule(case_ids=[case.id]) == 3
    messages = OutboxMessage.objects.filter(task=ANALYSE_TASK).order_by("created_at")
    assert [len(m.kwargs["image_ids"]) for m in messages] == [2, 1]
    assert calls == [2, 1]
    assert all(verdict_part(image.analysis) for image in case.images.all())


def test_partner_feedback_on_a_cases_hash_schedules_analysis(detector_off: None) -> None:
    from takedown.partners.bank import BankEntryRef
    from takedown.partners.services import feedback_record, partner_create

    case = case_make(images=1, status=CaseStatus.CONFIRMED)
    assert case.images.get().analysis is None
    partner = partner_create(name="Example Social", actor=Actor.system(), scopes=("feedback",)).partner
    feedback_record(partner=partner, value="Blocked",
                    entry=BankEntryRef(entry_id=1, signal_type="pdq", status="Active", case_ids=(case.id,)))
    assert OutboxMessage.objects.filter(task=ANALYSE_TASK, queue="gpu").count() == 1
    assert _analysis(case.images.get())["label"] == "undetermined"
    # Feedback again: the verdict is current, nothing more is queued.
    feedback_record(partner=partner, value="Blocked",
                    entry=BankEntryRef(entry_id=1, signal_type="pdq", status="Active", case_ids=(case.id,)))
    assert OutboxMessage.objects.filter(task=ANALYSE_TASK).count() == 1


def test_analysis_task_is_routed_to_the_gpu_queue(monkeypatch: pytest.MonkeyPatch, detector_off: None) -> None:
    from takedown.celery import app

    app.loader.import_default_modules()
    assert ANALYSE_TASK in app.tasks
    assert app.amqp.router.route({}, ANALYSE_TASK)["queue"].name == "gpu"
    assert app.amqp.router.route({}, "victims.process_case")["queue"].name == "default"
    # Through the outbox with a real broker (not eager): published to the gpu queue.
    sent: list[tuple[str, Any]] = []
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append((name, kw.get("queue"))))
    case = case_make(images=1)
    from django.db import transaction

    with transaction.atomic():
        case_images_analysis_schedule(case_ids=[case.id])
    assert sent == [(ANALYSE_TASK, "gpu")]
    # And the GPU worker of the compose file consumes that queue; the CPU worker does not.
    compose = yaml.safe_load((REPO / "docker" / "compose.yml").read_text())
    gpu_command = compose["services"]["gpu-worker"]["command"]
    assert gpu_command[gpu_command.index("-Q") + 1].split(",") == ["gpu"]
    cpu_command = compose["services"]["worker"]["command"]
    assert "gpu" not in cpu_command[cpu_command.index("-Q") + 1].split(",")


def test_unknown_and_device_only_images_are_skipped(detector_on: str) -> None:
    case = case_make(images=0)
    device_only = image_add(case, stored=False)
    result = case_images_analyse(image_ids=[device_only.id, uuid.uuid4()])
    assert result.analysed == 0 and result.skipped == 2
    device_only.refresh_from_db()
    assert device_only.analysis is None


def test_a_passing_runtime_error_is_retried(detector_on: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from takedown.cases.tasks import images_analyse

    case = case_make(images=1)
    image = case.images.get()
    detector = detector_current()
    real_score = detector.score
    failures = [RuntimeError("CUDA out of memory")]

    def flaky(images: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_score(images)

    monkeypatch.setattr(detector, "score", flaky)
    images_analyse.apply(kwargs={"image_ids": [str(image.id)]})
    image.refresh_from_db()
    assert not failures and isinstance(_analysis(image)["detector"]["score"], float)


def test_with_the_detector_off_analysis_never_imports_torch() -> None:
    # A small deployment runs tasks inside the web process: with no weights it must not pay for torch.
    import subprocess
    import sys

    script = (
        "import django, sys; django.setup()\n"
        "from detection.services import detector_current\n"
        "from detection.verdict import images_analyse\n"
        "from tests.conftest import draw_image\n"
        "verdict = images_analyse([draw_image(1)], detector=detector_current())[0]\n"
        "print(verdict.label, 'torch' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DETECTOR_WEIGHTS": ""}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["undetermined", "False"]


def test_command_queues_stale_images_after_the_operator_configures_weights(
    settings: Any, detector_off: None, tiny_weights: tuple[Path, str]
) -> None:
    from django.core.management import CommandError, call_command

    case = _submit(draw_image(9), draw_image(10))
    out = io.StringIO()
    call_command("detector_analyse", stdout=out)
    assert out.getvalue().strip() == "queued 0 images of 1 cases for analysis"  # current: nothing to do
    settings.DETECTOR_WEIGHTS, settings.DETECTOR_WEIGHTS_SHA256 = str(tiny_weights[0]), tiny_weights[1]
    detector_current.cache_clear()
    call_command("detector_analyse", "--case", case.reference, stdout=out)
    assert "queued 2 images of 1 cases" in out.getvalue()
    assert all(isinstance(_analysis(image)["detector"]["score"], float) for image in case.images.all())
    with pytest.raises(CommandError, match="no open case with reference TD-NOPE"):
        call_command("detector_analyse", "--case", "TD-NOPE")


def test_a_new_threshold_makes_verdicts_stale(settings: Any, detector_on: str) -> None:
    case = _submit(draw_image(11))
    image = case.images.get()
    assert _analysis(image)["detector"]["status"]["threshold"] == 0.5
    assert case_images_analysis_schedule(case_ids=[case.id]) == 0
    settings.DETECTOR_THRESHOLD = 0.01  # every score is at or above it
    detector_current.cache_clear()
    assert case_images_analysis_schedule(case_ids=[case.id]) == 1
    image.refresh_from_db()
    assert _analysis(image)["label"] == "likely_generated"
    assert _analysis(image)["detector"]["status"]["threshold"] == 0.01


def test_without_a_gpu_the_operator_routes_analysis_to_the_default_queue() -> None:
    # DETECTOR_QUEUE is read when settings load: check what a worker started with DETECTOR_QUEUE=default routes.
    import subprocess
    import sys

    script = (
        "import django; django.setup()\n"
        "from takedown.celery import app\n"
        "print(app.amqp.router.route({}, 'detection.images_analyse')['queue'].name)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "takedown.settings", "DETECTOR_QUEUE": "default",
           "DEBUG": "true"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip() == "default"
