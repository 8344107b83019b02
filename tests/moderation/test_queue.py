"""Queues: derived from the cases, ordered by deadline and severity, claimed by one moderator at a time."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections
from django.utils import timezone

from takedown.cases.models import CaseStatus, CaseURL, Message
from takedown.core.audit import Actor
from takedown.moderation.models import ItemKind, ReviewItem
from takedown.moderation.services import (
    ClaimError,
    moderation_claim,
    moderation_claim_next,
    moderation_close_for_case,
    moderation_item_open,
    moderation_queue_sync,
    moderation_release,
)
from takedown.remedies.models import RemedyRequest, RequestKind
from takedown.remedies.services import remedies_clock_tick, remedies_generate_for_case
from tests.conftest import make_staff
from tests.remedies.factory import case_make, confirm, host_make, image_add


@pytest.mark.django_db
def test_sync_fills_every_queue_once() -> None:
    new = case_make()
    messaged = case_make(status=CaseStatus.NEEDS_INFO)
    Message.objects.create(case=messaged, author=Message.Author.VICTIM, body="here is more")
    flagged = case_make(images=0)
    # The shape detection.verdict.Verdict.as_dict() stores.
    image_add(flagged, seed=5, analysis={"version": 1, "label": "likely_generated", "supports_digital_forgery": True,
                                         "reasons": ["detector score 0.93 at or above 0.5"], "limits": []})
    image_add(flagged, seed=6, analysis={"version": 1, "label": "no_evidence_of_generation",
                                         "supports_digital_forgery": False, "reasons": [], "limits": []})
    matched = confirm(case_make())
    CaseURL.objects.create(case=matched, url="https://elsewhere.example/z", host="elsewhere.example",
                           source=CaseURL.Source.MATCH)
    moderation_queue_sync()
    moderation_queue_sync()
    kinds = sorted(ReviewItem.objects.values_list("kind", "case__reference"))
    assert kinds == sorted([
        (ItemKind.NEW_REPORT, new.reference), (ItemKind.NEW_REPORT, flagged.reference),
        (ItemKind.VICTIM_MESSAGE, messaged.reference), (ItemKind.DETECTOR_FLAG, flagged.reference),
        (ItemKind.PARTNER_MATCH, matched.reference),
    ])


@pytest.mark.django_db(transaction=True)
def test_requests_at_risk_enter_the_queue_with_their_deadline_and_leave_when_met() -> None:
    host_make("pics.example")
    case = confirm(case_make(severity=2))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    with time_machine.travel(removal.sent_at + timedelta(hours=25), tick=False):
        remedies_clock_tick()
        moderation_queue_sync()
    item = ReviewItem.objects.get(kind=ItemKind.DEADLINE_RISK, state="open")
    assert item.due_at == removal.deadline_at and item.severity == 2 + 3  # severity + escalated priority
    with time_machine.travel(removal.sent_at + timedelta(hours=49), tick=False):
        remedies_clock_tick()
        moderation_queue_sync()
    open_items = ReviewItem.objects.filter(kind=ItemKind.DEADLINE_RISK, state="open")
    assert [i.subject for i in open_items] == [f"{removal.id}:overdue"]
    removal.state = "complied"
    removal.save()
    moderation_queue_sync()
    assert not ReviewItem.objects.filter(kind=ItemKind.DEADLINE_RISK, state="open").exists()


@pytest.mark.django_db
def test_claim_next_takes_the_earliest_deadline_then_the_most_severe() -> None:
    moderator = make_staff("m", "moderator")
    now = timezone.now()
    late = moderation_item_open(case=case_make(severity=5), kind=ItemKind.NEW_REPORT, due_at=now + timedelta(hours=9))
    soon_mild = moderation_item_open(case=case_make(severity=1), kind=ItemKind.NEW_REPORT,
                                     due_at=now + timedelta(hours=1))
    soon_severe = moderation_item_open(case=case_make(severity=3), kind=ItemKind.NEW_REPORT,
                                       due_at=now + timedelta(hours=1))
    order = [moderation_claim_next(user=moderator) for _ in range(3)]
    assert [i.id for i in order] == [soon_severe.id, soon_mild.id, late.id]
    assert moderation_claim_next(user=moderator) is None
    assert order[0].case.status == CaseStatus.IN_REVIEW


@pytest.mark.django_db
def test_a_claim_is_exclusive_until_it_expires_or_is_released(settings) -> None:
    settings.MODERATION_CLAIM_SECONDS = 600
    first, second = make_staff("m1", "moderator"), make_staff("m2", "moderator")
    item = moderation_item_open(case=case_make(), kind=ItemKind.NEW_REPORT)
    assert moderation_claim_next(user=first).id == item.id
    assert moderation_claim_next(user=second) is None
    with pytest.raises(ClaimError):
        moderation_claim(item_id=item.id, user=second)
    with time_machine.travel(timezone.now() + timedelta(seconds=601), tick=False):
        assert moderation_claim_next(user=second).id == item.id
    with pytest.raises(ClaimError):
        moderation_release(item_id=item.id, user=first)  # no longer first's
    moderation_release(item_id=item.id, user=second)
    assert moderation_claim(item_id=item.id, user=first).claimed_by == first


@pytest.mark.django_db
def test_withdrawal_closes_the_case_items() -> None:
    case = case_make()
    moderation_item_open(case=case, kind=ItemKind.NEW_REPORT)
    assert moderation_close_for_case(case=case, actor=Actor.victim()) == 1
    assert moderation_claim_next(user=make_staff("m", "moderator")) is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_claimers_never_get_the_same_item() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED contention needs PostgreSQL (set DATABASE_URL); SQLite serialises writers")
    moderators = [make_staff(f"c{i}", "moderator") for i in range(6)]
    items = [moderation_item_open(case=case_make(images=0), kind=ItemKind.NEW_REPORT) for _ in range(30)]
    claimed: dict[str, list] = {m.username: [] for m in moderators}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(moderators))

    def worker(user) -> None:
        try:
            barrier.wait()
            while True:
                item = moderation_claim_next(user=user)
                if item is None:
                    return
                claimed[user.username].append(item.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()  # each thread had its own connection

    threads = [threading.Thread(target=worker, args=(m,)) for m in moderators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    all_claimed = [i for ids in claimed.values() for i in ids]
    assert len(all_claimed) == len(set(all_claimed)) == len(items)
    assert sum(1 for ids in claimed.values() if ids) >= 2  # they really did run side by side
    holders = dict(ReviewItem.objects.values_list("id", "claimed_by__username"))
    for username, ids in claimed.items():
        assert all(holders[i] == username for i in ids)
