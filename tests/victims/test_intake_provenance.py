"""Intake reads provenance from the original bytes before it strips metadata, and keeps only the findings."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import CaseImage
from takedown.cases.services import INTAKE_NOTE, case_images_analyse
from takedown.core.evidence import evidence_get
from tests.conftest import draw_image
from tests.victims.conftest import file_upload_report

pytestmark = pytest.mark.django_db

XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia">'
    "<xmp:CreatorTool>Microsoft Designer</xmp:CreatorTool></rdf:Description></rdf:RDF></x:xmpmeta>"
)


def generated_jpeg_with_camera_and_gps() -> bytes:
    image = Image.open(io.BytesIO(draw_image(7, (400, 300), "PNG"))).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "CameraMakerXYZ"  # Make
    exif[0x0110] = "ModelQRS-9"  # Model
    exif[0x0131] = "Midjourney v6"  # Software: a generator field
    exif[0x010E] = "Gemini telescope"  # a caption: never a finding
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), xmp=XMP.encode())
    return out.getvalue()


def test_intake_keeps_the_generator_findings_and_nothing_about_camera_or_place(client: Client, settings: Any) -> None:
    filed = file_upload_report(client, images=[generated_jpeg_with_camera_and_gps()])
    image = CaseImage.objects.get(case=filed.case)
    found = image.analysis["provenance_at_intake"]
    kinds = sorted((s["kind"], s["says_generated"]) for s in found["signals"])
    assert kinds == [("digital_source_type", True), ("generator_metadata", True), ("generator_metadata", True)]
    generators = sorted(s["detail"].get("generator", "") for s in found["signals"])
    assert generators == ["", "Microsoft Designer", "Midjourney"]
    stored = json.dumps(found)
    for private in ("CameraMakerXYZ", "ModelQRS-9", "51.0", "Gemini", "telescope"):
        assert private not in stored
    # The stored copy has none of it, as the form promises.
    kept = evidence_get(image.blob_name)
    assert b"CameraMakerXYZ" not in kept and b"Midjourney" not in kept and b"Designer" not in kept

    # The verdict carries the intake findings (they were unreadable from the stored copy) and says where from.
    image.state = CaseImage.State.HASHED
    image.save(update_fields=["state"])
    case_images_analyse(image_ids=[image.id])
    image.refresh_from_db()
    assert image.analysis["label"] == "likely_generated"
    assert any("Midjourney" in r and "read from the original file at intake" in r for r in image.analysis["reasons"])
    assert INTAKE_NOTE in image.analysis["provenance"]["skipped"]
    assert "provenance_at_intake" in image.analysis  # the verdict did not replace intake's record


def test_the_form_says_what_is_kept(client: Client) -> None:
    page = client.get(reverse("victims-report-upload")).content.decode()
    assert "Location and camera details are removed before anything is stored" in page
    assert "whether the file says it was made or edited by an AI tool" in page
