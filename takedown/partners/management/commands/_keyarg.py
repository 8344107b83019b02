"""Finding a partner key from what an operator types: the key itself, or its 12-character id."""

import uuid

from django.core.management.base import CommandError

from takedown.partners.keys import key_lookup_id
from takedown.partners.models import Partner, PartnerKey


def key_from_arg(text: str) -> PartnerKey:
    lookup_id = key_lookup_id(text.strip()) or text.strip().removeprefix("tdk_").split("_")[0]
    key = PartnerKey.objects.select_related("partner").filter(lookup_id=lookup_id).first()
    if key is None:
        raise CommandError("no key with that id (give the key, or the 12 characters after tdk_)")
    return key


def partner_from_arg(text: str) -> Partner:
    partner = Partner.objects.filter(name=text).first()
    if partner is None:
        try:
            partner = Partner.objects.filter(pk=uuid.UUID(text)).first()
        except ValueError:  # neither a name nor an id
            partner = None
    if partner is None:
        raise CommandError(f"no partner named or with id {text!r}")
    return partner
