"""Demo partner platforms for `manage.py demo_data` (DEBUG only, idempotent).

Keys are shown once by design, so the demo keeps the credentials it created in VAR_DIR/demo-partners.json
(readable by the owner only) and prints where they are; a real deployment never writes keys anywhere.
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.conf import settings

from takedown.core.audit import Actor
from takedown.partners.models import Partner
from takedown.partners.services import partner_create

DEMO_PARTNERS: dict[str, tuple[str, ...]] = {
    "Demo Social Network": ("lookup", "fetch", "feedback", "submit"),
    "Demo Video Host": ("lookup", "fetch", "feedback"),
    "Demo Search Engine": ("fetch", "feedback"),
}


def demo_partners() -> str | None:
    path = settings.VAR_DIR / "demo-partners.json"
    saved: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    created = []
    for name, scopes in DEMO_PARTNERS.items():
        if Partner.objects.filter(name=name).exists():
            continue
        made = partner_create(name=name, actor=Actor.system(), scopes=scopes)
        saved[name] = {
            "partner_id": str(made.partner.id),
            "scopes": list(scopes),
            "api_key": made.api_key.plaintext,
            "stopncii": {"subscription_key": made.stopncii.subscription_key,
                         "function_keys": made.stopncii.function_keys},
        }
        created.append(name)
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(saved, handle, indent=2)
    return (f"Demo partners ({', '.join(DEMO_PARTNERS)}): credentials in {path}; "
            f"API docs at {settings.SITE_URL}/api/docs/")
