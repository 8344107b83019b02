"""Advocate grants and court exports: every write and every read of a case goes through here, audited.

Access rule: an advocate sees a case only through an active grant (not expired, not revoked, case not
withdrawn). A grant comes from the person's consent on their status page (victims.views.case_advocates, which
checks their case secret once more through intake's own selector) or from a moderator acting on a documented
request. Exporting re-checks the advocate's second factor.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp import match_token

from takedown.cases.models import Case, CaseImage
from takedown.core.audit import Actor, audit_record, chain_key, chain_lock
from takedown.core.evidence import evidence_get
from takedown.core.ratelimit import ratelimit_hit, ratelimit_peek, ratelimit_reset
from takedown.core.roles import ADMIN, ADVOCATE, MODERATOR, user_role
from takedown.exports import bundle, keys
from takedown.exports.annex import annex_certificate_load, annex_seal
from takedown.exports.dossier import DossierOptions, dossier_assemble, iso, section_audit
from takedown.exports.filing import filing_pack
from takedown.exports.models import AdvocateGrant, AdvocateProfile, CaseExport
from takedown.exports.pdf import case_pdf_render
from takedown.exports.timestamp import (
    LocalTSA,
    TimestampError,
    remote_timestamp,
    timestamp_reply_accept,
    timestamp_request,
    timestamp_verify,
)
from takedown.exports.verify_doc import verify_md_render
from takedown.remedies.models import SentMessage, SentMessageTampered

GRANT_DAY_CHOICES = (7, 30, 90, 180, 365)
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LOOKALIKES = str.maketrans("OIL", "011")  # what people misread in a code they copy by hand
RECONFIRM_FAILURES = 5
RECONFIRM_WINDOW = 900


class GrantError(ValueError):
    """A grant cannot be made or changed; the message is safe to show."""


class GrantNotFound(Exception):
    """No such case for this advocate: missing, never granted, expired and revoked all look the same."""


class ReconfirmFailed(Exception):
    pass


class ReconfirmLocked(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many wrong codes")
        self.retry_after = retry_after


class ExportNotConfigured(Exception):
    pass


class ExhibitUnreadable(GrantError):
    """A stored sent message fails its own hash: nothing is exported that would cite altered bytes."""


# --- advocate profiles ----------------------------------------------------------------------------------------


def _new_grant_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))  # 80 bits
    return "ADV-" + "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def grant_code_normalise(code: str) -> str:
    cleaned = code.strip().upper().replace(" ", "").replace("-", "")
    cleaned = cleaned.translate(CODE_LOOKALIKES)
    if cleaned.startswith("ADV"):
        cleaned = cleaned[3:]
    if len(cleaned) != 16 or any(ch not in CODE_ALPHABET for ch in cleaned):
        return ""
    return "ADV-" + "-".join(cleaned[i : i + 4] for i in range(0, 16, 4))


def advocate_profile_ensure(*, user: User) -> AdvocateProfile:
    if user_role(user) != ADVOCATE:
        raise GrantError("only advocates have a profile")
    profile, _ = AdvocateProfile.objects.get_or_create(
        user=user, defaults={"organisation": user.get_username(), "grant_code": _new_grant_code()}
    )
    return profile


def advocate_profile_update(*, user: User, organisation: str, annex_certificate: str) -> AdvocateProfile:
    organisation = organisation.strip()
    if not organisation:
        raise GrantError("Give the name the person will recognise (you or your organisation).")
    if annex_certificate.strip():
        annex_certificate_load(annex_certificate)
    with transaction.atomic():
        profile = advocate_profile_ensure(user=user)
        profile.organisation = organisation[:120]
        profile.annex_certificate = annex_certificate.strip()
        profile.save(update_fields=["organisation", "annex_certificate", "updated_at"])
        audit_record(actor=Actor.for_user(user), action="advocate.profile_update", object_type="user",
                     object_id=user.pk, detail={"annex_certificate": bool(profile.annex_certificate)})
    return profile


# --- the person's side -----------------------------------------------------------------------------------------


def _grant_days(days: int) -> timedelta:
    if days not in GRANT_DAY_CHOICES or days > settings.EXPORT_GRANT_MAX_DAYS:
        raise GrantError("Choose how long the access lasts from the list.")
    return timedelta(days=days)


def _supersede(case: Case, advocate: User, actor: Actor) -> None:
    now = timezone.now()
    for old in AdvocateGrant.objects.select_for_update().filter(
        case=case, advocate=advocate, revoked_at=None, expires_at__gt=now
    ):
        old.revoked_at = now
        old.revoked_by = "superseded"
        old.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(actor=actor, action="advocate_grant.supersede", case_id=case.id, object_type="advocate_grant",
                     object_id=old.id)


def grant_create_by_victim(
    *, case: Case, advocate_code: str, days: int, images_consented: bool, identity_for_court: str
) -> AdvocateGrant:
    if case.withdrawn_at is not None:
        raise GrantError("This case was withdrawn.")
    code = grant_code_normalise(advocate_code)
    profile = AdvocateProfile.objects.select_related("user").filter(grant_code=code).first() if code else None
    if profile is None or user_role(profile.user) != ADVOCATE:
        raise GrantError("No advocate has that code. Check it with your advocate.")
    lifetime = _grant_days(days)
    identity = identity_for_court.strip()
    if len(identity) > 2000:
        raise GrantError("The identity for the court is too long (2,000 characters at most).")
    if identity and not profile.annex_certificate:
        # Promise a sealed annex only where one can be made: never take the identity and leave it out silently.
        raise GrantError("This advocate cannot receive a sealed identity yet: they have not set up a certificate "
                         "to seal it to. Leave the identity empty, or ask them to set one up first.")
    actor = Actor.victim()
    with transaction.atomic():
        _supersede(case, profile.user, actor)
        grant = AdvocateGrant.objects.create(
            case=case, advocate=profile.user, basis=AdvocateGrant.Basis.VICTIM_CONSENT,
            images_consented=images_consented, identity_for_court=identity,
            expires_at=timezone.now() + lifetime,
        )
        audit_record(actor=actor, action="advocate_grant.create", case_id=case.id, object_type="advocate_grant",
                     object_id=grant.id, detail={"basis": grant.basis, "advocate_id": str(profile.user.pk),
                                                 "days": days, "images_consented": images_consented,
                                                 "identity_given": bool(identity)})
    return grant


def grant_create_by_moderator(
    *, user: User, case: Case, advocate: User, days: int, request_document: str
) -> AdvocateGrant:
    """A moderator grants access on a documented request (e.g. a signed authority the person gave the advocate).

    Images and the identity annex need the person's own consent, so a moderator's grant never includes them.
    """
    if user_role(user) not in (MODERATOR, ADMIN):
        raise GrantError("Only moderators grant access on a documented request.")
    if user_role(advocate) != ADVOCATE:
        raise GrantError("That account is not an advocate.")
    if case.withdrawn_at is not None:
        raise GrantError("This case was withdrawn.")
    document = request_document.strip()
    if len(document) < 10:
        raise GrantError("Describe the documented request (what it is, its date and where it is filed).")
    lifetime = _grant_days(days)
    actor = Actor.for_user(user)
    with transaction.atomic():
        advocate_profile_ensure(user=advocate)
        _supersede(case, advocate, actor)
        grant = AdvocateGrant.objects.create(
            case=case, advocate=advocate, basis=AdvocateGrant.Basis.DOCUMENTED_REQUEST,
            request_document=document[:300], granted_by=user, expires_at=timezone.now() + lifetime,
        )
        audit_record(actor=actor, action="advocate_grant.create", case_id=case.id, object_type="advocate_grant",
                     object_id=grant.id, detail={"basis": grant.basis, "advocate_id": str(advocate.pk),
                                                 "days": days, "request_document": document[:300]})
    return grant


def grant_revoke(*, grant_id: uuid.UUID | str, actor: Actor, case: Case | None = None) -> AdvocateGrant:
    """Revoke a grant. The person may revoke grants on their own case only (pass `case`); staff any grant."""
    with transaction.atomic():
        query = AdvocateGrant.objects.select_for_update().filter(id=grant_id)
        if actor.kind == "victim":
            if case is None:
                raise GrantError("No case.")
            query = query.filter(case=case)
        elif actor.kind not in (MODERATOR, ADMIN):
            raise GrantError("Only the person or a moderator revokes access.")
        grant = query.first()
        if grant is None:
            raise GrantError("No such access.")
        if grant.revoked_at is None:
            grant.revoked_at = timezone.now()
            grant.revoked_by = actor.kind
            grant.save(update_fields=["revoked_at", "revoked_by"])
            audit_record(actor=actor, action="advocate_grant.revoke", case_id=grant.case_id,
                         object_type="advocate_grant", object_id=grant.id)
    return grant


def victim_grants(*, case: Case) -> list[AdvocateGrant]:
    return list(AdvocateGrant.objects.filter(case=case).select_related("advocate__advocate_profile"))


# --- the advocate's side ---------------------------------------------------------------------------------------


def advocate_grant_get(*, user: User, reference: str) -> AdvocateGrant:
    if user_role(user) != ADVOCATE:
        raise GrantNotFound
    now = timezone.now()
    grant = (
        AdvocateGrant.objects.select_related("case")
        .filter(advocate=user, case__court_reference=reference.strip().upper(), revoked_at=None, expires_at__gt=now,
                case__withdrawn_at=None)
        .order_by("-created_at")
        .first()
    )
    if grant is None:
        raise GrantNotFound
    return grant


def advocate_grants_active(*, user: User) -> list[AdvocateGrant]:
    now = timezone.now()
    grants = list(
        AdvocateGrant.objects.select_related("case")
        .filter(advocate=user, revoked_at=None, expires_at__gt=now, case__withdrawn_at=None)
        .order_by("expires_at")
    )
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user), action="advocate.cases_list", object_type="user",
                     object_id=user.pk, detail={"cases": len(grants)})
    return grants


def advocate_case_view(*, user: User, reference: str) -> tuple[AdvocateGrant, dict[str, Any]]:
    with transaction.atomic():
        grant = advocate_grant_get(user=user, reference=reference)
        dossier = dossier_assemble(grant.case, DossierOptions(generated_at=timezone.now()))
        audit_record(actor=Actor.for_user(user), action="advocate.case_view", case_id=grant.case_id,
                     object_type="advocate_grant", object_id=grant.id)
    return grant, dossier


def advocate_reconfirm(*, user: User, otp_token: str) -> None:
    """The advocate types a fresh code from their authenticator before a case leaves the platform."""
    subject = str(user.pk)
    decision = ratelimit_peek(scope="export-reconfirm", subject=subject, limit=RECONFIRM_FAILURES,
                              window=RECONFIRM_WINDOW)
    if not decision.allowed:
        raise ReconfirmLocked(decision.retry_after)
    token = otp_token.strip().replace(" ", "")
    if not token.isdigit() or match_token(user, token) is None:
        ratelimit_hit(scope="export-reconfirm", subject=subject, limit=RECONFIRM_FAILURES, window=RECONFIRM_WINDOW)
        with transaction.atomic():
            audit_record(actor=Actor.for_user(user), action="advocate.reconfirm_failed", object_type="user",
                         object_id=user.pk)
        raise ReconfirmFailed
    ratelimit_reset(scope="export-reconfirm", subject=subject, window=RECONFIRM_WINDOW)


@dataclass(frozen=True)
class ExportResult:
    data: bytes
    filename: str
    manifest_digest: str
    record: CaseExport


def _second_timestamper() -> tuple[Any, bytes] | tuple[None, None]:
    """The second authority's stamper and CA file, when EXPORT_TSA2_URL is set (it must be a public TSA)."""
    url = settings.EXPORT_TSA2_URL
    if not url:
        return None, None
    if not settings.EXPORT_TSA2_CA_FILE:
        raise ExportNotConfigured("EXPORT_TSA2_URL is set without EXPORT_TSA2_CA_FILE")
    try:
        ca_pem = Path(settings.EXPORT_TSA2_CA_FILE).read_bytes()
    except OSError as exc:
        raise ExportNotConfigured(f"EXPORT_TSA2_CA_FILE: cannot read {settings.EXPORT_TSA2_CA_FILE}") from exc
    return _timestamper(ca_pem, url=url), ca_pem


def _timestamper(ca_pem: bytes, *, url: str | None = None) -> Any:
    url = settings.EXPORT_TSA_URL if url is None else url

    def stamp(manifest: bytes) -> bytes:
        request, nonce = timestamp_request(manifest)
        if url:
            reply = remote_timestamp(url, request, timeout=settings.EXPORT_TSA_TIMEOUT)
        else:
            tsa: LocalTSA = keys.local_tsa_load()
            reply = tsa.respond(request)
        shipped = timestamp_reply_accept(reply, data=manifest, nonce=nonce)
        # Never ship a token that the bundled CA file cannot vouch for: the court's check would fail later.
        timestamp_verify(shipped, data=manifest, ca_pem=ca_pem)
        return shipped

    return stamp


def _image_files(case: Case) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    for image in CaseImage.objects.filter(case=case).exclude(blob_name="").exclude(state=CaseImage.State.DELETED):
        extension = (mimetypes.guess_extension(image.media_type or "") or ".bin").lstrip(".")
        files[str(image.id)] = (f"images/{image.id.hex}.{extension}", evidence_get(image.blob_name))
    return files


def _video_sheets(case: Case) -> dict[str, tuple[str, bytes]]:
    """Each stored video's keyframes as one contact sheet, blurred and grey (as moderators first see them)."""
    from detection.video_media import contact_sheet
    from takedown.cases.models import CaseVideo

    sheets: dict[str, tuple[str, bytes]] = {}
    for video in CaseVideo.objects.filter(case=case).exclude(keyframes=[]).exclude(state=CaseVideo.State.DELETED):
        frames = [(float(frame["second"]), evidence_get(str(frame["blob"]))) for frame in video.keyframes]
        sheets[str(video.id)] = (f"videos/{video.id.hex}-contact-sheet.png", contact_sheet(frames, shield=True))
    return sheets


def _exhibit_files(dossier: dict[str, Any], *, signature: str) -> dict[str, bytes]:
    """Each cited sent message's exact bytes, under the name case.json gives it; checked against its SHA-256.

    A message that carries the person's own signature (which may be their name) does not go into the plain
    file: its exhibit entry keeps the SHA-256 and says it is held under seal, so the court can check the copy
    it receives under seal against this file. Nothing is rendered again either way.
    """
    cited = {e["message"]: e for r in dossier["requests"] for e in r["exhibits"]}
    files: dict[str, bytes] = {}
    found = 0
    for message in SentMessage.objects.filter(id__in=list(cited)):
        try:
            body = message.raw_bytes()
        except SentMessageTampered as exc:
            raise ExhibitUnreadable(
                "A stored sent message no longer matches the SHA-256 recorded when it was sent; the export stops "
                "rather than cite it. Tell the operator.") from exc
        found += 1
        exhibit = cited[str(message.id)]
        if signature.strip() and signature.strip().encode() in body:
            exhibit["held_under_seal"] = True
            exhibit["file"] = None
            continue
        exhibit["held_under_seal"] = False
        files[exhibit["file"]] = body
    if found != len(cited):
        raise ExhibitUnreadable("A sent message cited in the case file could not be read; the export stops.")
    return files


def _annex_content(case: Case, grant: AdvocateGrant, generated_at: datetime) -> dict[str, Any]:
    return {
        "purpose": "Sealed identity annex for court proceedings; file under seal.",
        "court_reference": case.court_reference,
        "pseudonym": case.pseudonym,
        "generated_at": iso(generated_at),
        "identity_for_court": grant.identity_for_court,
        "electronic_signature": case.signature,
        "description": case.description,
    }


def case_export_build(
    *,
    case: Case,
    actor: Actor,
    grant: AdvocateGrant | None = None,
    include_images: bool = False,
    made_by: User | None = None,
) -> ExportResult:
    """Build the ZIP for a case and record the export in the same transaction as its audit event."""
    if include_images and (grant is None or not grant.images_consented):
        raise GrantError("The person did not consent to sharing images with this advocate.")
    try:
        signing_key = keys.signing_key_load()
        ca_pem = keys.tsa_ca_pem_load()
    except Exception as exc:  # ImproperlyConfigured and unreadable files alike: say what to do, not a 500
        raise ExportNotConfigured(str(exc)) from exc
    generated_at = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        # Hold the case's audit chain while reading it, so the excerpt is the whole chain and the export's own
        # event below is the very next row.
        chain_lock(chain_key(case_id=case.id, actor_kind="", actor_id=""))
        images = _image_files(case) if include_images else {}
        # A video's contact sheet is imagery too: it goes with the images, on the person's consent only.
        sheets = _video_sheets(case) if include_images else {}
        options = DossierOptions(generated_at=generated_at, include_images=include_images,
                                 image_files={k: v[0] for k, v in images.items()},
                                 video_sheets={k: v[0] for k, v in sheets.items()})
        dossier = dossier_assemble(case, options)
        audit = section_audit(case, options)
        exhibit_files = _exhibit_files(dossier, signature=case.signature)
        files: dict[str, bytes] = {
            bundle.CASE_JSON: json.dumps(dossier, ensure_ascii=False, indent=1, sort_keys=False).encode(),
            bundle.AUDIT_JSON: json.dumps(audit, ensure_ascii=False, indent=1).encode(),
            bundle.CASE_PDF: case_pdf_render(dossier, audit),
        }
        for name, content in [*images.values(), *sheets.values()]:
            files[name] = content
        files.update(exhibit_files)
        files.update(filing_pack(dossier, audit))
        annex = False
        if grant is not None and grant.identity_for_court:
            certificate = getattr(getattr(grant.advocate, "advocate_profile", None), "annex_certificate", "")
            if certificate:
                files[bundle.ANNEX] = annex_seal(_annex_content(case, grant, generated_at),
                                                 certificate_pem=certificate)
                annex = True
        second_stamp, tsa2_ca = _second_timestamper()
        try:
            data, manifest = bundle.bundle_write(
                files,
                signing_key=signing_key,
                timestamp=_timestamper(ca_pem),
                tsa_ca_pem=ca_pem,
                verify_md=lambda fingerprint: verify_md_render(
                    reference=case.court_reference, fingerprint=fingerprint, files=sorted(files), annex=annex,
                    external_tsa=bool(settings.EXPORT_TSA_URL), site=settings.SITE_URL,
                    tsa_label=settings.EXPORT_TSA_URL, second_tsa=settings.EXPORT_TSA2_URL,
                ),
                when=generated_at,
                second_timestamp=second_stamp,
                tsa2_ca_pem=tsa2_ca,
            )
        except TimestampError as exc:
            raise ExportNotConfigured(f"time-stamping failed: {exc}") from exc
        digest = hashlib.sha256(manifest).hexdigest()
        record = CaseExport.objects.create(case=case, grant=grant, made_by=made_by, manifest_digest=digest,
                                           size=len(data), images_included=bool(images), annex_included=annex)
        audit_record(actor=actor, action="case.export", case_id=case.id, object_type="case_export",
                     object_id=record.id, detail={"manifest_digest": digest, "images": bool(images),
                                                  "annex": annex, "grant_id": str(grant.id) if grant else ""})
    filename = f"case-{case.court_reference}-{generated_at:%Y%m%dT%H%M%SZ}.zip"
    return ExportResult(data=data, filename=filename, manifest_digest=digest, record=record)


def advocate_case_export(
    *, user: User, reference: str, otp_token: str, include_images: bool
) -> ExportResult:
    grant = advocate_grant_get(user=user, reference=reference)
    advocate_reconfirm(user=user, otp_token=otp_token)
    return case_export_build(case=grant.case, actor=Actor.for_user(user), grant=grant,
                             include_images=include_images, made_by=user)


def advocate_users() -> list[User]:
    from takedown.core.roles import ROLE_GROUPS

    return list(get_user_model().objects.filter(groups__name=ROLE_GROUPS[ADVOCATE], is_active=True)
                .select_related("advocate_profile").order_by("username"))
