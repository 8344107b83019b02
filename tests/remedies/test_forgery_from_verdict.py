"""Removal requests call the imagery a "digital forgery" where the person said so, or where they were unsure and the
stored verdict (detection.verdict) supports it; the supporting findings are cited with their limits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from detection.detector.interface import DetectorStatus
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal
from detection.verdict import verdict_build
from takedown.cases.models import ContentKind
from takedown.core.audit import Actor
from takedown.remedies.documents import request_render
from takedown.remedies.models import RemedyRequest, RequestKind
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import case_make, confirm, host_make, image_add

pytestmark = pytest.mark.django_db

CALIBRATION = {"threshold": 0.7, "target_fpr": 0.01, "real_images": 400, "false_positives": 3, "measured_fpr": 0.0075,
               "fpr_upper_95": 0.0196, "measured_on": "held-out real images of the training run"}
ON = DetectorStatus(enabled=True, reason="ok", architecture="npr", weights_sha256="ef" * 32, threshold=0.7,
                    calibration=CALIBRATION)
OFF = DetectorStatus(enabled=False, reason="no weights configured")
WATERMARK = ProvenanceSignal(kind="watermark", strength="statistical", says_generated=True,
                             summary="Stable Diffusion invisible watermark decoded (47/48 bits agree)")
CAPTURE_CLAIM = ProvenanceSignal(kind="digital_source_type", strength="claimed", says_generated=False,
                                 summary="XMP metadata declares digitalCapture (unsigned claim)")


def _verdict(score: float | None, *signals: ProvenanceSignal) -> dict[str, Any]:
    status = ON if score is not None else OFF
    return verdict_build(detector_status=status, detector_score=score,
                         provenance=ProvenanceReport(signals=list(signals))).as_dict()


def _removal(kind: str, *analyses: dict[str, Any] | None, jurisdiction: str = "US") -> tuple[str, dict[str, Any]]:
    from takedown.remedies.models import Host

    if not Host.objects.filter(domain="pics.example").exists():
        host_make("pics.example", jurisdiction=jurisdiction)
    case = case_make(images=0, kind=kind)
    for seed, analysis in enumerate(analyses):
        image_add(case, seed=seed, analysis=analysis)
    remedies_generate_for_case(case=confirm(case), actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    # The text is wrapped for reading; join its lines to search it.
    text = " ".join(request_render(removal, "txt")[0].decode().split())
    return text, json.loads(request_render(removal, "json")[0])


def test_unsure_case_with_a_supporting_verdict_is_requested_as_a_digital_forgery() -> None:
    text, data = _removal(ContentKind.UNSURE, _verdict(0.12), _verdict(0.93, CAPTURE_CLAIM), _verdict(None, WATERMARK),
                          jurisdiction="DE")
    assert text.startswith("Removal request: non-consensual intimate imagery (digital forgery) ===")
    assert data["content"]["digital_forgery"] is True and data["content"]["digital_forgery_reported"] is False
    assert data["content"]["digital_forgery_analysis"] is True
    assert "a digital forgery (a deepfake)" in data["take_it_down"]["good_faith_statement"]
    # Only what says generated is cited, per image, with the caution that it is not proof.
    assert [image["forgery_findings"] for image in data["images"]] == [
        [], ["synthetic-image detector score 0.93, at or above its threshold 0.70; at that threshold it called 3 of "
             "400 held-out real images generated (false-positive rate 0.8%, 95% upper bound 2.0%)"],
        ["Stable Diffusion invisible watermark decoded (47/48 bits agree)"]]
    assert "Technical analysis supports that the depiction is a digital forgery. These are indications, not proof" \
        in text
    assert "* Image 2: synthetic-image detector score 0.93" in text
    assert "* Image 3: Stable Diffusion invisible watermark decoded" in text
    assert "digitalCapture" not in text and "0.12" not in text
    assert "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE" in data["dsa_notice"]["transparency_database"]["keywords"]


def test_unsure_case_without_support_is_not_called_a_forgery() -> None:
    text, data = _removal(ContentKind.UNSURE, _verdict(0.12), _verdict(None), None)
    assert data["content"]["digital_forgery"] is False and "(digital forgery)" not in text
    assert "Technical analysis" not in text


def test_a_detector_never_contradicts_a_person_who_says_the_image_is_real() -> None:
    text, data = _removal(ContentKind.REAL, _verdict(0.99), _verdict(None, WATERMARK))
    assert data["content"]["digital_forgery"] is False and data["content"]["digital_forgery_analysis"] is False
    assert all(image["forgery_findings"] == [] for image in data["images"])
    assert text.startswith("Removal request: non-consensual intimate imagery ===") and "Technical analysis" not in text


def test_reported_deepfake_cites_findings_when_there_are_some() -> None:
    text, data = _removal(ContentKind.DEEPFAKE, _verdict(0.95))
    assert data["content"]["digital_forgery"] is True and data["content"]["digital_forgery_reported"] is True
    assert "* Image 1: synthetic-image detector score 0.95" in text
    text, data = _removal(ContentKind.DEEPFAKE, _verdict(None))
    assert data["content"]["digital_forgery"] is True and "Technical analysis" not in text
