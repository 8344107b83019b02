"""Cases for the moderation and remedies tests, built directly (intake's own services are tested elsewhere)."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterable

import numpy as np
import pdqhash
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from PIL import Image

from takedown.cases.models import Case, CaseImage, CaseStatus, CaseURL, ContentKind
from takedown.core.evidence import evidence_put
from takedown.remedies.models import Host
from tests.conftest import draw_image

CONTACT = "reach-me@private.example"
SIGNATURE = "Real Name Of Person"
_counter = itertools.count(1)


def pdq_hex(data: bytes) -> tuple[str, int]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    bits, quality = pdqhash.compute(np.asarray(image))
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:064x}", int(quality)


def image_add(case: Case, *, seed: int = 0, data: bytes | None = None, analysis: dict | None = None,
              stored: bool = True) -> CaseImage:
    data = data or draw_image(seed)
    pdq, quality = pdq_hex(data)
    return CaseImage.objects.create(
        case=case, source=CaseImage.Source.UPLOAD if stored else CaseImage.Source.DEVICE,
        state=CaseImage.State.HASHED, blob_name=evidence_put(data) if stored else "", media_type="image/png",
        size=len(data), sha256=hashlib.sha256(data).hexdigest(), md5=hashlib.md5(data).hexdigest(),
        pdq=pdq, pdq_quality=quality, analysis=analysis,
    )


def case_make(*, urls: Iterable[tuple[str, str]] = (("https://pics.example/a/1", "pics.example"),),
              images: int = 1, seed: int = 0, kind: str = ContentKind.DEEPFAKE, status: str = CaseStatus.SUBMITTED,
              severity: int = 1, signature: str = SIGNATURE, good_faith: bool = True, authority: str = "self",
              agent_authorised: bool = True) -> Case:
    n = next(_counter)
    case = Case.objects.create(
        reference=f"TD-TEST-{n:04d}", secret_hash=make_password("tds_not-a-real-secret"), pseudonym=f"Jane Doe {n}",
        content_kind=kind, status=status, severity=severity, description="Drawn shapes standing in for a report.",
        signature=signature, contact=CONTACT, good_faith_at=timezone.now() if good_faith else None,
        authority=authority, agent_authorised_at=timezone.now() if agent_authorised else None,
    )
    for url, host in urls:
        CaseURL.objects.create(case=case, url=url, host=host)
    for i in range(images):
        image_add(case, seed=seed + i)
    return case


def host_make(domain: str, *, jurisdiction: str = "US", email: str | None = None, partner_id: str = "",
              name: str | None = None) -> Host:
    return Host.objects.create(domain=domain, name=name or domain.split(".")[0].title(), jurisdiction=jurisdiction,
                               abuse_email=email if email is not None else f"abuse@{domain}",
                               partner_id=partner_id, contact_source=Host.ContactSource.DIRECTORY)


def confirm(case: Case) -> Case:
    case.status = CaseStatus.CONFIRMED
    case.confirmed_at = timezone.now()
    case.save(update_fields=["status", "confirmed_at"])
    return case
