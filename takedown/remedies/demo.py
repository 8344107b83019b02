"""Demo data for the embedded default (DEBUG only): the host directory, and one report waiting in the queue."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from takedown.cases.models import Authority, Case, CaseImage, CaseURL, ContentKind
from takedown.core.evidence import evidence_put
from takedown.remedies.directory import host_directory_seed
from takedown.remedies.models import Host

DEMO_REFERENCE = "DEMO-REVIEW-1"
DEMO_HOSTS = (
    {"domain": "imageboard.example", "name": "Imageboard (demo)", "abuse_email": "abuse@imageboard.example",
     "jurisdiction": "US"},
    {"domain": "fotoforum.example", "name": "Fotoforum (demo, EU)", "abuse_email": "abuse@fotoforum.example",
     "jurisdiction": "DE"},
)


def _drawn_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (40, 90, 160))
    draw = ImageDraw.Draw(image)
    draw.ellipse((60, 40, 200, 180), fill=(230, 180, 60))
    draw.rectangle((180, 120, 300, 220), fill=(200, 60, 80))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def remedies_demo_data() -> str | None:
    with transaction.atomic():
        host_directory_seed()
        for entry in DEMO_HOSTS:
            Host.objects.get_or_create(domain=entry["domain"], defaults=entry | {
                "contact_source": Host.ContactSource.DIRECTORY})
        if Case.objects.filter(reference=DEMO_REFERENCE).exists():
            return None
        case = Case.objects.create(
            reference=DEMO_REFERENCE, secret_hash=make_password(secrets.token_urlsafe(24)), pseudonym="Jane Doe 1",
            content_kind=ContentKind.DEEPFAKE, description="Demo report: a drawn test image, not a real person.",
            signature="Jane Doe 1", good_faith_at=timezone.now(), authority=Authority.SELF,
            agent_authorised_at=timezone.now(),
        )
        for url, domain in (("https://imageboard.example/t/123", "imageboard.example"),
                            ("https://fotoforum.example/bild/9", "fotoforum.example")):
            CaseURL.objects.create(case=case, url=url, host=domain)
        data = _drawn_png()
        CaseImage.objects.create(case=case, source=CaseImage.Source.UPLOAD, state=CaseImage.State.HASHED,
                                 blob_name=evidence_put(data), media_type="image/png", size=len(data),
                                 width=320, height=240, sha256=hashlib.sha256(data).hexdigest(),
                                 md5=hashlib.md5(data).hexdigest())  # noqa: S324 - MD5 is what partners exchange
    return f"Demo report {DEMO_REFERENCE} is waiting in the moderation queue (/staff/moderation/)."
