"""Demo data for the embedded default: one case built from drawn images (never a photograph)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from takedown.cases.locations import url_normalise
from takedown.cases.models import Case, Message
from takedown.core.audit import Actor
from victims.images import image_inspect
from victims.services import UploadedImage, case_message_send, report_submit

DEMO_MARKER = "Demo case (drawn images)"


def _drawn(seed: int) -> bytes:
    rnd = random.Random(seed)
    image = Image.new("RGB", (640, 480), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(16):
        x0, y0 = rnd.randrange(640), rnd.randrange(480)
        box = (x0, y0, x0 + rnd.randrange(30, 220), y0 + rnd.randrange(30, 180))
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def demo_case() -> str | None:
    """Idempotent: finds the demo case by its description and makes it only once."""
    if any(case.description == DEMO_MARKER for case in Case.objects.filter(pseudonym__startswith="Doe ")):
        return None
    images = []
    for seed in (101, 102):
        data = _drawn(seed)
        images.append(UploadedImage(data=data, inspected=image_inspect(data, max_bytes=10 * 1024 * 1024)))
    submitted = report_submit(
        content_kind="deepfake",
        urls=[url_normalise("https://images.example.com/p/8841"), url_normalise("https://forum.example.org/t/55")],
        description=DEMO_MARKER,
        signature="J. D.",
        contact="",
        good_faith=True,
        authority="self",
        authorise_agent=True,
        images=images,
    )
    case_message_send(case=submitted.case, body="Thank you for your report. We are looking at it now.",
                      author=Message.Author.MODERATOR, actor=Actor.system())
    return (f"Demo case: reference {submitted.case.reference}, secret {submitted.secret} "
            "(open it at /case/; drawn images only)")
