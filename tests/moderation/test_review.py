"""The review page and decisions: shielded imagery revealed by an audited POST, no contact details, decisions."""

import io

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from PIL import Image

from takedown.cases.models import CaseStatus, Message
from takedown.core.models import AuditEvent
from takedown.moderation.models import Decision, ItemKind, ReviewItem
from takedown.moderation.services import (
    ModerationError,
    moderation_claim,
    moderation_claim_next,
    moderation_decide,
    moderation_item_open,
    moderation_second_review,
)
from takedown.remedies.models import RemedyRequest
from tests.conftest import draw_image, make_staff, verified_client
from tests.remedies.factory import CONTACT, SIGNATURE, case_make, host_make, image_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed(moderator):
    host_make("pics.example")
    case = case_make(images=0)
    image_add(case, seed=1, analysis={"verdict": "likely_synthetic", "score": 0.91, "explanation": "NPR residue"})
    image_add(case, seed=2, stored=False)
    twin = case_make(images=0)
    image_add(twin, data=draw_image(1))  # the same picture in another case: a match at distance 0
    item = moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
    moderation_claim(item_id=item.id, user=moderator)
    return item


def _png(response) -> Image.Image:
    return Image.open(io.BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))


def test_review_page_shows_what_a_moderator_needs_and_not_the_contact(claimed, moderator_client: Client) -> None:
    response = moderator_client.get(reverse("moderation-review", args=[claimed.id]))
    assert response.status_code == 200
    html = response.content.decode()
    case = claimed.case
    assert case.pseudonym in html and "https://pics.example/a/1" in html
    assert "NPR residue" in html and "likely_synthetic" in html
    assert "distance 0" in html  # the twin case's image
    assert html.count('class="shielded"') == 1 and 'class="revealed"' not in html
    assert "no image is stored" in html  # the device-hashed one
    assert CONTACT not in html and SIGNATURE not in html
    assert "<script>" not in html and " style=" not in html
    assert AuditEvent.objects.filter(action="moderation.case_view", case_id=case.id).count() == 1


def test_an_image_is_blurred_grey_until_revealed_and_each_reveal_is_audited(claimed, moderator_client) -> None:
    image = claimed.case.images.exclude(blob_name="").get()
    url = reverse("moderation-image", args=[claimed.id, image.id])
    shielded = _png(moderator_client.get(url))
    assert shielded.mode == "L"  # greyscale
    original = Image.open(io.BytesIO(draw_image(1))).convert("L")
    # Blurred: far less fine detail than the original drawing.
    from PIL import ImageFilter, ImageStat

    def edges(im):
        # Mean edge strength inside a margin (the edge filter's own one-pixel frame is not detail).
        return ImageStat.Stat(im.filter(ImageFilter.FIND_EDGES).crop((8, 8, im.width - 8, im.height - 8))).mean[0]

    assert edges(shielded) < edges(original) / 3
    assert moderator_client.get(reverse("moderation-reveal", args=[claimed.id, image.id])).status_code == 405
    response = moderator_client.post(reverse("moderation-reveal", args=[claimed.id, image.id]))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="moderation.image_reveal", object_id=str(image.id)).count() == 1
    revealed = _png(moderator_client.get(url))
    assert revealed.mode == "RGB" and revealed.size == (320, 240)
    html = moderator_client.get(reverse("moderation-review", args=[claimed.id])).content.decode()
    assert 'class="revealed"' in html and 'class="shielded"' not in html
    moderator_client.post(reverse("moderation-shield", args=[claimed.id]))
    assert _png(moderator_client.get(url)).mode == "L"


def test_another_moderator_cannot_open_or_reveal_a_claimed_item(claimed) -> None:
    other = verified_client(make_staff("m2", "moderator"))
    image = claimed.case.images.exclude(blob_name="").get()
    assert other.get(reverse("moderation-review", args=[claimed.id])).status_code == 302
    assert other.post(reverse("moderation-reveal", args=[claimed.id, image.id])).status_code == 302
    assert other.get(reverse("moderation-image", args=[claimed.id, image.id])).status_code == 403
    assert not AuditEvent.objects.filter(action="moderation.image_reveal").exists()


@pytest.mark.django_db(transaction=True)
def test_confirm_through_the_console_generates_and_sends_the_remedies(claimed, moderator_client) -> None:
    response = moderator_client.post(reverse("moderation-decide", args=[claimed.id]), {"decision": "confirm"})
    assert response.status_code == 302 and response["Location"] == reverse("remedies-case", args=[claimed.case_id])
    case = claimed.case
    case.refresh_from_db()
    assert case.status == CaseStatus.CONFIRMED and case.confirmed_at
    kinds = sorted(RemedyRequest.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == ["blocking"] + ["delinking"] * 5 + ["removal"]  # one de-linking per search engine
    assert len(mail.outbox) == 1
    page = moderator_client.get(response["Location"]).content.decode()
    assert "Removal" in page and "48-hour deadline" in page and "Google Search" in page
    assert Message.objects.filter(case=case, author="system").exists()
    assert not ReviewItem.objects.filter(case=case, state="open").exists()


def test_reject_needs_a_reason_the_person_reads(claimed, moderator) -> None:
    with pytest.raises(ModerationError):
        moderation_decide(item_id=claimed.id, user=moderator, decision="reject")
    moderation_decide(item_id=claimed.id, user=moderator, decision="reject", reason="The URLs show no imagery.")
    case = claimed.case
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    message = Message.objects.get(case=case, author="moderator")
    assert "The URLs show no imagery." in message.body and "reply" in message.body


def test_ask_for_information(claimed, moderator) -> None:
    moderation_decide(item_id=claimed.id, user=moderator, decision="ask_info", message="Which page shows it?")
    case = claimed.case
    case.refresh_from_db()
    assert case.status == CaseStatus.NEEDS_INFO
    assert Message.objects.get(case=case, author="moderator").body == "Which page shows it?"
    # The person answers: the answer lands in the messages queue.
    Message.objects.create(case=case, author="victim", body="The second link.")
    from takedown.moderation.services import moderation_queue_sync

    moderation_queue_sync()
    assert ReviewItem.objects.filter(case=case, kind=ItemKind.VICTIM_MESSAGE, state="open").exists()


def test_second_review_of_a_rejection(claimed, moderator, settings) -> None:
    settings.MODERATION_SECOND_REVIEW = True
    moderation_decide(item_id=claimed.id, user=moderator, decision="reject", reason="Not intimate imagery.")
    case = claimed.case
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_REVIEW and not Message.objects.filter(case=case, author="moderator").exists()
    assert moderation_claim_next(user=moderator) is None  # not the same moderator
    second = make_staff("m2", "moderator")
    item = moderation_claim_next(user=second)
    assert item.kind == ItemKind.SECOND_REVIEW
    moderation_second_review(item_id=item.id, user=second, approve=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.REJECTED
    assert Decision.objects.get(case=case).second_reviewer == second
    assert "Not intimate imagery." in Message.objects.get(case=case, author="moderator").body


def test_an_overturned_rejection_goes_back_to_review(claimed, moderator, settings) -> None:
    settings.MODERATION_SECOND_REVIEW = True
    moderation_decide(item_id=claimed.id, user=moderator, decision="reject", reason="Unclear.")
    second = make_staff("m2", "moderator")
    item = moderation_claim_next(user=second)
    moderation_second_review(item_id=item.id, user=second, approve=False)
    assert Decision.objects.get(case=claimed.case).state == Decision.State.OVERTURNED
    again = moderation_claim_next(user=moderator)
    assert again.kind == ItemKind.NEW_REPORT and again.case_id == claimed.case_id


def test_deciding_needs_a_live_claim(claimed) -> None:
    other = make_staff("m2", "moderator")
    with pytest.raises(ModerationError):
        moderation_decide(item_id=claimed.id, user=other, decision="confirm")


def test_a_persons_message_stays_open_until_a_reply_or_a_close_with_reason(claimed, moderator) -> None:
    """Confirming the case does not answer "Please hurry, I am scared": only a reply or an explicit close does."""
    from takedown.moderation.selectors import unanswered_messages
    from takedown.moderation.services import moderation_message_close, moderation_queue_sync

    case = claimed.case
    Message.objects.create(case=case, author="victim", body="Please hurry, I am scared")
    moderation_queue_sync()
    moderation_decide(item_id=claimed.id, user=moderator, decision="confirm")
    moderation_queue_sync()
    item = ReviewItem.objects.get(case=case, kind=ItemKind.VICTIM_MESSAGE, state="open")
    assert Message.objects.get(case=case, author="victim").read_at is None
    waiting = unanswered_messages()
    assert [row.reference for row in waiting] == [case.court_reference] and waiting[0].count == 1
    moderation_claim(item_id=item.id, user=moderator)
    with pytest.raises(ModerationError):
        moderation_message_close(item_id=item.id, user=moderator, reason="  ")
    moderation_message_close(item_id=item.id, user=moderator, reason="Answered by phone through the advocate")
    item.refresh_from_db()
    assert item.state == "done" and item.resolution == "closed_without_reply"
    assert item.note == "Answered by phone through the advocate"
    moderation_queue_sync()
    assert unanswered_messages() == []
    assert not ReviewItem.objects.filter(case=case, kind=ItemKind.VICTIM_MESSAGE, state="open").exists()


def test_queue_page_lists_unanswered_messages_oldest_first_and_the_close_form(claimed, moderator,
                                                                              moderator_client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from takedown.moderation.services import moderation_queue_sync

    older = case_make(images=0)
    newer = case_make(images=0)
    Message.objects.create(case=newer, author="victim", body="Any news?")
    first = Message.objects.create(case=older, author="victim", body="Please hurry, I am scared")
    Message.objects.filter(id=first.id).update(created_at=timezone.now() - timedelta(hours=5))
    moderation_queue_sync()
    body = moderator_client.get(reverse("moderation-queue")).content.decode()
    section = body[body.index('id="unanswered"'):]
    assert section.index(older.court_reference) < section.index(newer.court_reference)
    assert "5\xa0hours" in section
    assert "Please hurry" not in body  # the queue names cases, not what people wrote
    item = ReviewItem.objects.get(case=older, kind=ItemKind.VICTIM_MESSAGE, state="open")
    moderator_client.post(reverse("moderation-claim", args=[item.id]))
    review = moderator_client.get(reverse("moderation-review", args=[item.id])).content.decode()
    assert 'id="close-message"' in review
    refused = moderator_client.post(reverse("moderation-message-close", args=[item.id]), {"reason": ""})
    assert refused.status_code == 302
    item.refresh_from_db()
    assert item.state == "open"
    moderator_client.post(reverse("moderation-message-close", args=[item.id]), {"reason": "Duplicate of the call"})
    item.refresh_from_db()
    assert item.state == "done" and AuditEvent.objects.filter(action="moderation.message_closed").exists()
