"""Remedies: the host directory and the requests that carry Citron's three injunctive remedies.

A confirmed case yields one removal request per host where its imagery appears, one blocking request (the case's
hashes made Active in the hash bank, which partners sync) and one de-linking request per search engine. A request
stores what it was about (its URLs, a snapshot) and what happened to it, each step with its time; its documents
(PDF, text, JSON) are rendered from the case on demand by one code path (takedown.remedies.documents).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from takedown.cases.models import Case
from takedown.core import crypto
from takedown.core.fields import EncryptedTextField

# The TAKE IT DOWN Act gives a covered platform 48 hours from receipt; we escalate before it runs out.
STATUTORY_HOURS = 48
# The note of a "received" event recorded only because the recipient answered (acknowledged, complied, refused)
# before any receipt was on record: its system had the request by then, but since when is not known.
RECEIPT_FROM_ANSWER = "the recipient answered"
ESCALATION_HOURS = (24, 40)

# Member states of the EU, by ISO 3166-1 alpha-2 code ("EL" is the EU's own code for Greece).
EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR EL IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)


class HostKind(models.TextChoices):
    HOST = "host", _("Hosting service or platform")
    SEARCH_ENGINE = "search_engine", _("Search engine")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email to the abuse contact")
    PARTNER = "partner", _("Partner API")
    WEB_FORM = "web_form", _("The host's own web form (sent by a moderator)")
    HASH_BANK = "hash_bank", _("Hash bank (partners sync it)")
    # The directory knows no way to reach the host: a moderator must find one; such a request is never "sent".
    NONE = "none", _("Needs a channel: no contact known")


class Host(models.Model):
    """One entry of the host directory, keyed by registrable domain (e.g. example.co.uk)."""

    class ContactSource(models.TextChoices):
        DIRECTORY = "directory", _("Curated directory entry")
        RFC2142 = "rfc2142", _("Standard abuse@ mailbox (RFC 2142), not verified")
        NONE = "none", _("No contact known")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    domain = models.CharField(max_length=253, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=HostKind.choices, default=HostKind.HOST)
    abuse_email = models.EmailField(blank=True)
    web_form_url = models.URLField(blank=True)
    contact_source = models.CharField(max_length=16, choices=ContactSource.choices, default=ContactSource.NONE)
    # ISO 3166-1 alpha-2 code of the country whose law governs the host, or "EU"; blank when unknown.
    jurisdiction = models.CharField(max_length=2, blank=True)
    # The DSA applies to services offered in the Union wherever the provider is established (Art. 2(1)).
    offers_services_in_eu = models.BooleanField(default=False)
    # The id of a partner platform (takedown.partners) that takes requests through the API instead of email.
    partner_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("domain",)

    def __str__(self) -> str:
        return self.domain

    @property
    def dsa_applies(self) -> bool:
        return self.offers_services_in_eu or self.jurisdiction.upper() in EU_COUNTRIES | {"EU"}

    @property
    def contact_guessed(self) -> bool:
        """The abuse address is the RFC 2142 `abuse@` mailbox, guessed, not a curated directory entry."""
        return bool(self.abuse_email) and self.contact_source == self.ContactSource.RFC2142


class RequestKind(models.TextChoices):
    REMOVAL = "removal", _("Removal")
    BLOCKING = "blocking", _("Blocking")
    DELINKING = "delinking", _("De-linking")


class RequestState(models.TextChoices):
    DRAFT = "draft", _("Not sent yet")
    # Handed to our sender (a partner's webhook, the partner API) and not yet taken by the recipient's system.
    SENDING = "sending", _("Being delivered")
    # "Sent" means the recipient's system took it: SMTP accepted it, the partner's endpoint answered 2xx, or the
    # partner fetched it. Never merely that we tried.
    SENT = "sent", _("Sent")
    # It bounced or the partner's endpoint refused it for good: nobody has it, a moderator must act.
    UNDELIVERED = "undelivered", _("Not delivered")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    COMPLIED = "complied", _("Done")
    REFUSED = "refused", _("Refused")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (RequestState.DRAFT, RequestState.SENDING, RequestState.SENT, RequestState.UNDELIVERED,
               RequestState.ACKNOWLEDGED)
# The states in which the recipient has the request: the 48-hour clock runs only here.
RECEIVED_STATES = (RequestState.SENT, RequestState.ACKNOWLEDGED)
FINAL_STATES = (RequestState.COMPLIED, RequestState.REFUSED, RequestState.CANCELLED)

# The largest court order PDF an advocate may upload (orders are a few pages; scans stay well under this).
COURT_ORDER_MAX_BYTES = 10 * 1024 * 1024


class CourtOrder(models.Model):
    """A court's order directing removal, blocking or de-linking (Citron's injunctive remedies) for a case.

    Recorded by an advocate holding a grant to the case. Its PDF is kept encrypted in the evidence store; the
    requests it gives rise to cite it and run on their own clocks (RemedyRequest.court_order).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="court_orders")
    court = models.CharField(max_length=200)
    # A docket number can lead to the (sealed) file of a pseudonymous plaintiff: stored encrypted.
    docket_number = EncryptedTextField()
    order_date = models.DateField()
    # The kinds of request the order directs: RequestKind values.
    scope = models.JSONField(default=list)
    document_blob = models.CharField(max_length=100)
    document_sha256 = models.CharField(max_length=64)
    document_size = models.PositiveIntegerField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("recorded_at",)

    def __str__(self) -> str:
        return f"{self.court} {self.order_date}"

    def scope_labels(self) -> list[str]:
        return [str(RequestKind(kind).label) for kind in self.scope if kind in RequestKind.values]


class RemedyRequest(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="remedy_requests")
    kind = models.CharField(max_length=16, choices=RequestKind.choices)
    # Blocking goes to the hash bank, not to one host.
    host = models.ForeignKey(Host, on_delete=models.PROTECT, null=True, blank=True, related_name="requests")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.DRAFT,
                             db_index=True)
    # What the request was about, as generated: it must not change under a request that was already sent.
    urls = models.JSONField(default=list, blank=True)
    dsa_notice = models.BooleanField(default=False)
    # Set on a request made because a court ordered it; it cites the order and keeps its own clock.
    court_order = models.ForeignKey(CourtOrder, on_delete=models.RESTRICT, null=True, blank=True,
                                    related_name="requests")
    priority = models.PositiveSmallIntegerField(default=0)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    send_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # When it was first handed to its channel (the SMTP conversation, the partner's webhook, the partner API).
    sent_at = models.DateTimeField(null=True, blank=True)
    # When the recipient's system took it (SMTP acceptance, a 2xx webhook answer, the partner's first fetch, a
    # moderator's submission of the host's web form): the Act's 48 hours count from here.
    received_at = models.DateTimeField(null=True, blank=True)
    undelivered_at = models.DateTimeField(null=True, blank=True)
    # Why the last delivery failed ("bounced: 5.1.1 user unknown"), shown to moderators and, in words, the person.
    delivery_problem = models.CharField(max_length=500, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True, db_index=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    complied_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("kind", "created_at")
        # A host may get a second removal request for URLs found after the first was sent; blocking is one per
        # case (re-running it re-activates every hash of the case).
        constraints = [
            models.UniqueConstraint(fields=("case", "kind"),
                                    condition=models.Q(host__isnull=True, court_order__isnull=True),
                                    name="remedy_one_hostless_per_case_kind"),
            models.UniqueConstraint(fields=("case", "kind", "court_order"), condition=models.Q(host__isnull=True),
                                    name="remedy_one_hostless_per_order_kind"),
        ]
        indexes = [models.Index(fields=("state", "deadline_at"))]

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"

    @property
    def recipient_label(self) -> str:
        if self.host is not None:
            return self.host.name
        return str(_("Hash bank and every partner platform"))

    @property
    def has_statutory_clock(self) -> bool:
        return self.kind == RequestKind.REMOVAL

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def clock_running(self) -> bool:
        return self.deadline_at is not None and self.state in RECEIVED_STATES

    def receipt_from_answer(self) -> bool:
        """Whether the receipt on record was only inferred from the recipient's answer (its latest "received" step
        says so): the recipient had the request by then, but since when is not known, so no clock can be measured.
        Reads the request's events (prefetch them when asking for many requests)."""
        if self.received_at is None:
            return False
        received = [e for e in self.events.all() if e.action == "received"]
        if not received:
            return False
        latest = max(received, key=lambda e: (e.at, e.id or 0))
        return latest.note.startswith(RECEIPT_FROM_ANSWER)

    def hours_to_compliance(self) -> float | None:
        """Hours from receipt to compliance; None where either is not on record or the receipt is known only from
        the recipient's answer (then when the clock started is not known)."""
        if self.complied_at is None or self.received_at is None or self.receipt_from_answer():
            return None
        return (self.complied_at - self.received_at) / timedelta(hours=1)

    def hours_left(self, now: datetime) -> float | None:
        if self.deadline_at is None or not self.clock_running:
            return None
        return (self.deadline_at - now) / timedelta(hours=1)


class RequestEvent(models.Model):
    """One step in a request's life (created, sent, re-sent, escalated, acknowledged, ...), for the timeline."""

    request = models.ForeignKey(RemedyRequest, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    action = models.CharField(max_length=32)
    actor_kind = models.CharField(max_length=16)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.action} {self.at:%Y-%m-%d %H:%M}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Handed to our sender, no answer yet")
    ACCEPTED = "accepted", _("Accepted by the recipient's system")
    BOUNCED = "bounced", _("Bounced")
    REFUSED = "refused", _("Refused")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged by the recipient")


class SentMessageTampered(Exception):
    """The stored body no longer hashes to the SHA-256 recorded when it was sent."""


class SentMessage(models.Model):
    """One outgoing message exactly as it left: the bytes given to the SMTP connection or posted to a partner.

    It is the proof of what was sent, to whom and what came back: court exports cite it as an exhibit, so the
    body is never re-rendered, only decrypted. The body is encrypted with the evidence keyring, bound to the row
    id so a blob cannot be moved to another row unnoticed.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(RemedyRequest, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # An email address, or "partner:<partner id>".
    recipient = models.CharField(max_length=320)
    # abuse@<domain> guessed under RFC 2142, not a curated directory entry.
    recipient_guessed = models.BooleanField(default=False)
    # RFC 5322 Message-ID for email, the webhook delivery id for a partner.
    message_id = models.CharField(max_length=255, db_index=True)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=64)
    body_encrypted = models.BinaryField()
    sent_at = models.DateTimeField(db_index=True)
    delivery = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING,
                                db_index=True)
    delivery_at = models.DateTimeField(null=True, blank=True)
    delivery_detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("sent_at", "id")

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient} at {self.sent_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def associated_data(message_id: uuid.UUID) -> bytes:
        return b"takedown-sent-message:" + str(message_id).encode()

    def set_body(self, body: bytes) -> None:
        self.sha256 = hashlib.sha256(body).hexdigest()
        self.size = len(body)
        self.body_encrypted = crypto.encrypt(body, associated=self.associated_data(self.id))

    @classmethod
    def reencrypt_all(cls) -> int:
        """Re-encrypt every stored body under the first evidence key (`manage.py evidence_rotate_keys`)."""
        rows = 0
        for message in cls.objects.only("id", "sha256", "size", "body_encrypted").iterator(chunk_size=200):
            message.set_body(message.raw_bytes())  # raw_bytes checks the SHA-256 first: a bad row stops the run
            cls.objects.filter(pk=message.pk).update(body_encrypted=message.body_encrypted)
            rows += 1
        return rows

    def raw_bytes(self) -> bytes:
        """Exactly the bytes that were sent; raises SentMessageTampered when they no longer match sha256."""
        body = crypto.decrypt(bytes(self.body_encrypted), associated=self.associated_data(self.id))
        if hashlib.sha256(body).hexdigest() != self.sha256:
            raise SentMessageTampered(f"sent message {self.id} does not match its recorded SHA-256")
        return body
