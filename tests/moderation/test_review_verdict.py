"""The review page shows the stored verdict (detection.verdict's `as_dict`) with its reasons and limits; the imagery
stays blurred; a detector flag reaches the queue."""

from __future__ import annotations

import html as html_lib

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from detection.detector.interface import DetectorStatus
from detection.provenance.signals import ProvenanceReport, ProvenanceSignal
from detection.verdict import LIMIT_DETECTOR, verdict_build
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import moderation_claim, moderation_item_open, moderation_queue_sync
from tests.remedies.factory import case_make, host_make, image_add

pytestmark = pytest.mark.django_db

CALIBRATION = {"threshold": 0.7, "target_fpr": 0.01, "real_images": 400, "false_positives": 3, "measured_fpr": 0.0075,
               "fpr_upper_95": 0.0196, "measured_on": "held-out real images of the training run"}
ON = DetectorStatus(enabled=True, reason="weights loaded and verified", architecture="npr",
                    weights_sha256="cd" * 32, device="cpu", precision="fp32", threshold=0.7, calibration=CALIBRATION)
OFF = DetectorStatus(enabled=False, reason="no weights configured (DETECTOR_WEIGHTS is empty): the detector is off")
WATERMARK = ProvenanceSignal(kind="watermark", strength="statistical", says_generated=True,
                             summary="Stable Diffusion invisible watermark decoded (48/48 bits agree)")


@pytest.fixture
def reviewed(moderator: User) -> ReviewItem:
    host_make("pics.example")
    case = case_make(images=0)
    flagged = verdict_build(detector_status=ON, detector_score=0.93, provenance=ProvenanceReport(format="PNG"))
    off = verdict_build(detector_status=OFF, detector_score=None,
                        provenance=ProvenanceReport(format="PNG", signals=[WATERMARK],
                                                    skipped=["metadata: removed at intake"]))
    image_add(case, seed=1, analysis={"bank": {"available": True, "matches": []}, **flagged.as_dict()})
    image_add(case, seed=2, analysis=off.as_dict())
    image_add(case, seed=3)  # not analysed yet
    item = moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
    moderation_claim(item_id=item.id, user=moderator)
    return item


def test_review_page_shows_each_verdict_with_its_reasons_and_limits(reviewed: ReviewItem,
                                                                   moderator_client: Client) -> None:
    page = html_lib.unescape(moderator_client.get(reverse("moderation-review", args=[reviewed.id])).content.decode())
    assert page.count('class="verdict"') == 2
    # The detector-on verdict: its label, score and threshold, the digital-forgery note, and its limits.
    assert "Likely generated" in page
    assert "score 0.93, threshold 0.70 (npr, weights cdcdcdcdcdcd, cpu)" in page
    assert "detector 0.93 at or above threshold 0.70" in page
    assert page.count("Removal requests for this case may describe it as a digital forgery.") == 2
    assert LIMIT_DETECTOR in page
    # The detector-off verdict says the detector is off and shows the provenance that still counts.
    assert "Detector: off: no weights configured (DETECTOR_WEIGHTS is empty)" in page
    assert "Stable Diffusion invisible watermark decoded (48/48 bits agree)" in page
    assert "Generated: signed provenance or a generator's watermark says so" in page
    assert "metadata: removed at intake" in page
    # The unanalysed image says so; the bank's result stays visible as a row; no raw verdict JSON.
    assert "No detector verdict for this image yet" in page
    assert "<dt>bank</dt>" in page and '"supports_digital_forgery"' not in page
    # The imagery itself is unchanged: every stored image blurred, none revealed.
    assert page.count('class="shielded"') == 3 and 'class="revealed"' not in page
    assert " style=" not in page and "<script>" not in page


def test_flagged_verdicts_open_detector_flag_items() -> None:
    case = case_make(images=0)
    flagged = verdict_build(detector_status=ON, detector_score=0.93, provenance=ProvenanceReport())
    clean = verdict_build(detector_status=ON, detector_score=0.12, provenance=ProvenanceReport())
    undetermined = verdict_build(detector_status=OFF, detector_score=None, provenance=ProvenanceReport())
    image = image_add(case, seed=1, analysis=flagged.as_dict())
    image_add(case, seed=2, analysis=clean.as_dict())
    image_add(case, seed=3, analysis=undetermined.as_dict())
    moderation_queue_sync()
    items = ReviewItem.objects.filter(case=case, kind=ItemKind.DETECTOR_FLAG)
    assert [item.subject for item in items] == [str(image.id)]
