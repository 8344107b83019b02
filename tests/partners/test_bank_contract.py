"""What the partner API relies on from a HashBank, checked on every implementation it can be given."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.hashes import HashMaker
from tests.partners import memorybank

hashes = HashMaker(5)
rand_pdq = hashes.pdq
flip = hashes.flip


class DetectionBankHandle:
    """Changes the real bank (detection.bank) the way the memory bank's helpers change the fake."""

    def add(self, *, signal_type: str, value: str, case_ids=(), updated_at=None, status: str = "Active"):
        from detection.bank import bank_add

        source_kind, source_id = ("case", str(case_ids[0])) if case_ids else ("import", "contract-test")
        return bank_add(signal_type=signal_type, value=value, quality=None, source_kind=source_kind,
                        source_id=source_id, status=status, updated_at=updated_at)

    def set_status(self, entry_id: int, status: str):
        from detection.bank import bank_set_status

        bank_set_status(entry_ids=[entry_id], status=status)


@pytest.fixture(params=["memory", "detection"])
def contract_bank(request, memory_bank):
    """(bank, add, set_status): the bank and the two ways the tests change it."""
    if request.param == "memory":
        return memory_bank, memory_bank.add, memory_bank.set_status
    if request.param == "detection":
        from takedown.partners.bank_detection import detection_bank

        handle = DetectionBankHandle()
        return detection_bank(), handle.add, handle.set_status
    raise AssertionError(request.param)


@pytest.mark.django_db
def test_lookup_is_exact_within_the_distance_and_sorted(contract_bank) -> None:
    bank, add, _ = contract_bank
    query = rand_pdq()
    planted = {d: add(signal_type="pdq", value=flip(query, d)).id for d in (0, 5, 17, 31, 32, 40)}
    [matches] = bank.lookup(signal_type="pdq", values=[query], max_distance=31, statuses=("Active",))
    assert [(m.entry_id, m.distance) for m in matches] == [(planted[d], d) for d in (0, 5, 17, 31)]
    [narrow] = bank.lookup(signal_type="pdq", values=[query], max_distance=5, statuses=("Active",))
    assert [m.distance for m in narrow] == [0, 5]


@pytest.mark.django_db
def test_lookup_filters_by_status_and_type(contract_bank) -> None:
    bank, add, set_status = contract_bank
    value = rand_pdq()
    entry = add(signal_type="pdq", value=value)
    set_status(entry.id, "Withdrawn")
    assert bank.lookup(signal_type="pdq", values=[value], max_distance=0, statuses=("Active",)) == [[]]
    assert bank.lookup(signal_type="sha256", values=[value], max_distance=0, statuses=("Active", "Withdrawn")) == [[]]
    [[match]] = bank.lookup(signal_type="pdq", values=[value], max_distance=0, statuses=("Withdrawn",))
    assert match.status == "Withdrawn"


@pytest.mark.django_db
def test_changes_page_by_cursor_in_order(contract_bank) -> None:
    bank, add, set_status = contract_bank
    start = timezone.now() - timedelta(hours=1)
    entries = [add(signal_type="pdq", value=rand_pdq(), updated_at=start + timedelta(seconds=i // 3))
               for i in range(10)]
    set_status(entries[0].id, "Deleted")
    seen, after = [], None
    while True:
        page = bank.changes(since=start, after=after, limit=4, signal_types=("pdq",),
                            statuses=("Active", "Deleted"))
        if not page:
            break
        seen.extend(page)
        after = (page[-1].updated_at, page[-1].entry_id)
    assert [c.entry_id for c in seen] == [e.id for e in entries[1:]] + [entries[0].id]
    assert seen[-1].status == "Deleted"
    assert [(c.updated_at, c.entry_id) for c in seen] == sorted((c.updated_at, c.entry_id) for c in seen)


@pytest.mark.django_db
def test_find_and_submit(contract_bank) -> None:
    bank, add, _ = contract_bank
    case_id = uuid.uuid4()
    value = rand_pdq()
    entry = add(signal_type="pdq", value=value, case_ids=[case_id])
    found = bank.entries_find(signal_type="pdq", values=[value, rand_pdq()])
    assert list(found) == [value] and found[value].entry_id == entry.id and found[value].case_ids == (case_id,)
    submitted = bank.entry_submit(signal_type="pdq", value=rand_pdq(), partner_id=uuid.uuid4(), quality=None)
    assert submitted.status == "Received"
    again = bank.entry_submit(signal_type="pdq", value=value, partner_id=uuid.uuid4(), quality=None)
    assert again.entry_id == entry.id and again.status == "Active"


def test_memory_bank_is_reset_between_tests() -> None:
    assert memorybank.current().entries == {}
