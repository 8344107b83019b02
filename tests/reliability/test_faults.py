"""Fault tests: kill -9 workers and web processes, crash Redis and PostgreSQL in the middle of real work, then check
that every report, hash, review item, removal request and webhook delivery exists exactly once.

They run on a private stack (tests/reliability/stack.py: its own PostgreSQL cluster and Redis server on free
ports), never on the shared servers, and only where CI runs the suite against PostgreSQL and Redis.
bench/faults.py repeats each scenario and reports the figures in docs/reliability.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.reliability import scenarios
from tests.reliability.stack import Stack, missing_tools, running_stack

_CI = os.environ.get("DATABASE_URL", "").startswith("postgres") and os.environ.get(
    "CELERY_BROKER_URL", "").startswith("redis")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not _CI, reason="fault tests run where the suite runs on PostgreSQL and Redis (CI sets "
                                        "DATABASE_URL and CELERY_BROKER_URL); they start a private stack"),
    pytest.mark.skipif(_CI and bool(missing_tools()),
                       reason=f"fault tests need initdb, pg_ctl, redis-server: missing {missing_tools()}"),
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with running_stack() as running:
        yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[scenarios.Receiver]:
    running = scenarios.Receiver()
    yield running
    running.close()


def _explain(outcome: scenarios.Outcome, stack: Stack) -> str:
    logs = "\n".join(f"--- {proc.name}\n{proc.tail(10)}" for proc in stack.procs.values())
    return f"{outcome}\n{logs}"


@pytest.mark.parametrize("whole_node", [False, True], ids=["pool-process", "whole-node"])
def test_worker_killed_while_hashing_loses_and_repeats_nothing(stack: Stack, whole_node: bool) -> None:
    outcome = scenarios.worker_killed_while_hashing(stack, whole_node=whole_node, seed=int(whole_node))
    assert outcome.survived, _explain(outcome, stack)


@pytest.mark.parametrize("whole_node", [False, True], ids=["pool-process", "whole-node"])
def test_worker_killed_during_a_webhook_delivery_delivers_it_once(stack: Stack, receiver: scenarios.Receiver,
                                                                  whole_node: bool) -> None:
    outcome = scenarios.worker_killed_during_webhook(stack, receiver, whole_node=whole_node)
    assert outcome.survived, _explain(outcome, stack)
    # The receiver saw the delivery again after the kill (at least once), always under the same delivery id.
    assert outcome.notes["requests_received"] >= 2


def test_worker_killed_sending_a_removal_request_records_it_sent_once(stack: Stack) -> None:
    outcome = scenarios.worker_killed_sending_a_removal_request(stack, whole_node=True, seed=4)
    assert outcome.survived, _explain(outcome, stack)
    assert outcome.notes["send_count"] == 1 and outcome.notes["sent_events"] == 1
    # Killed after the hand-over to the mail server: the e-mail goes again, under the same reference.
    assert outcome.notes["emails_handed_to_mail_server"] >= 1


def test_web_process_killed_mid_request_commits_nothing_and_the_retry_files_one_case(stack: Stack) -> None:
    outcome = scenarios.web_killed_mid_request(stack, seed=2)
    assert outcome.survived, _explain(outcome, stack)
    assert outcome.notes["committed_before_kill"] == 0
    assert outcome.notes["first_attempt"] != 302
    # The encrypted file written before the kill has no row; the retention purge sweeps such files.
    assert outcome.notes["orphan_files_left"] == 1


def test_redis_crash_and_restart_loses_no_queued_or_running_task(stack: Stack) -> None:
    outcome = scenarios.redis_restarted(stack, seed=3)
    assert outcome.survived, _explain(outcome, stack)


def test_a_report_filed_while_the_broker_is_down_is_accepted_and_processed_after(stack: Stack) -> None:
    outcome = scenarios.report_while_broker_down(stack, seed=5)
    assert outcome.survived, _explain(outcome, stack)
    assert outcome.notes["status"] == 302 and outcome.notes["answered_in_s"] < 10


def test_postgres_crash_and_restart_loses_nothing_and_says_send_again(stack: Stack) -> None:
    outcome = scenarios.postgres_restarted(stack, seed=6)
    assert outcome.survived, _explain(outcome, stack)
    # While the database is down the form answers 503 (send it again), and the first request after the restart
    # succeeds: persistent connections are health-checked before reuse.
    assert outcome.notes["status_while_down"] == 503
    assert outcome.notes["statuses_after_restart"][0] == 302


def test_no_process_of_the_stack_logged_a_secret_hash_or_image_through_all_the_faults(stack: Stack) -> None:
    """The suite's log audit sees only the test process; faults make tracebacks in the web, worker and relay
    processes, so their logs get the same check (runs last in this module, after every fault above)."""
    from tests.conftest import _LEAK_PATTERNS

    leaks = []
    for name in ("web", "worker", "relay"):
        for path in sorted((stack.base / "logs").glob(f"{name}*.log")):
            for line in path.read_text(errors="replace").splitlines():
                leaks += [f"{path.name}: {label}: {line[:160]}" for label, pattern in _LEAK_PATTERNS.items()
                          if pattern.search(line)]
    assert (stack.base / "logs" / "worker.log").stat().st_size > 0
    assert leaks == []
