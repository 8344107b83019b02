"""Fault scenarios on a running Stack: break something in the middle of real work, recover, count what is stored.

Each scenario returns an Outcome: whether everything was there exactly once after recovery (`survived`), how many
things were lost or duplicated, and how long recovery took (from the fault to everything being done). Shared by
the fault tests (tests/reliability/test_faults.py) and the benchmark that repeats them (bench/faults.py).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.reliability.stack import CaseFacts, Stack, StackError, free_port, wait_for

RECOVERY_TIMEOUT = 45.0


@dataclass
class Outcome:
    scenario: str
    survived: bool
    lost: int = 0
    duplicated: int = 0
    recovery_seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)


def drawn_png(seed: int) -> bytes:
    """Shapes drawn from a seed (as tests.conftest.draw_image, which needs Django set up; this does not)."""
    import io
    import random

    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    image = Image.new("RGB", (160, 120), (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = rnd.randrange(160), rnd.randrange(120)
        box = (x0, y0, x0 + rnd.randrange(20, 80), y0 + rnd.randrange(20, 60))
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)(box, fill=colour)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _marker() -> str:
    return uuid.uuid4().hex[:16]


def _wait_complete(stack: Stack, markers: list[str], started: float) -> tuple[dict[str, CaseFacts], float]:
    """Wait until every report is processed end to end (or the timeout); returns the facts and recovery time."""
    facts: dict[str, CaseFacts] = {}

    def all_done() -> bool:
        for marker in markers:
            facts[marker] = stack.case_facts(marker)
        return all(item.complete() for item in facts.values())

    try:
        wait_for(all_done, RECOVERY_TIMEOUT, 0.1, what="every report to be processed")
    except StackError:
        pass
    return facts, time.monotonic() - started


def _case_outcome(name: str, facts: dict[str, CaseFacts], recovery: float, **notes: Any) -> Outcome:
    lost = sum(1 for item in facts.values() if not item.complete() and not item.duplicated())
    duplicated = sum(1 for item in facts.values() if item.duplicated())
    return Outcome(scenario=name, survived=lost == 0 and duplicated == 0, lost=lost, duplicated=duplicated,
                   recovery_seconds=round(recovery, 2),
                   notes={**notes, "facts": {key: vars(value) for key, value in facts.items()}})


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def worker_killed_while_hashing(stack: Stack, *, whole_node: bool, seed: int = 0) -> Outcome:
    """kill -9 the worker after it hashed an intake image and before it stored the hashes.

    `whole_node` kills the worker's main process and pool (a lost machine or container): its unacknowledged
    message stays in Redis until the visibility timeout, so it is the outbox's re-publication that recovers it.
    Otherwise only the pool process dies; the main process sees it and rejects the message back to the queue
    (task_reject_on_worker_lost).
    """
    marker = _marker()
    stack.hold("hash")
    try:
        status = stack.report_submit(marker=marker, image=drawn_png(seed))
        if status != 302:
            raise StackError(f"the report was refused with {status}")
        pid = stack.reached("hash")
        started = time.monotonic()
        if whole_node:
            stack.worker_kill()
        _kill(pid)
    finally:
        stack.release("hash")
    if whole_node:
        stack.worker_start()
    facts, recovery = _wait_complete(stack, [marker], started)
    return _case_outcome("worker kill -9 while hashing" + (" (whole node)" if whole_node else " (pool process)"),
                         facts, recovery)


class Receiver:
    """A partner's webhook receiver on loopback. While `holding`, it keeps each request open without answering,
    so the sending worker can be killed in the middle of the delivery."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[str] = []
        self.holding = threading.Event()
        self.arrived = threading.Event()
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append(json.loads(body)["id"])
                receiver.arrived.set()
                if receiver.holding.is_set():
                    receiver.released.wait(60)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def reset(self) -> None:
        self.received.clear()
        self.arrived.clear()
        self.released.clear()
        self.holding.clear()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def worker_killed_during_webhook(stack: Stack, receiver: Receiver, *, whole_node: bool) -> Outcome:
    """kill -9 the worker while the partner's receiver has the delivery's request and has not answered yet.

    Delivery is at least once: the receiver may see the same delivery id again and de-duplicates on it. What must
    hold is one delivery row, delivered in the end, and no delivery id the receiver never got.
    """
    marker = _marker()
    receiver.reset()
    receiver.holding.set()
    deliveries = stack.webhook_publish(url=receiver.url, marker=marker)
    if not receiver.arrived.wait(30):
        raise StackError("the webhook never reached the receiver")
    started = time.monotonic()
    pool_pid = _pool_pid(stack)
    if whole_node:
        stack.worker_kill()
    else:
        _kill(pool_pid)
    receiver.holding.clear()
    receiver.released.set()
    if whole_node:
        stack.worker_start()

    def delivered() -> bool:
        rows = stack.delivery_facts(marker)
        return bool(rows) and all(status == "delivered" for _, status, _ in rows)

    try:
        wait_for(delivered, RECOVERY_TIMEOUT, 0.1, what="the delivery to be marked delivered")
    except StackError:
        pass
    recovery = time.monotonic() - started
    rows = stack.delivery_facts(marker)
    ids = {delivery_id for delivery_id, _, _ in rows}
    lost = sum(1 for _, status, _ in rows if status != "delivered") + (0 if rows else 1)
    lost += len(ids - set(receiver.received))
    duplicated = max(0, len(rows) - len(deliveries)) + len(set(receiver.received) - ids)
    return Outcome(scenario="worker kill -9 during a webhook delivery" + (" (whole node)" if whole_node else
                                                                           " (pool process)"),
                   survived=lost == 0 and duplicated == 0, lost=lost, duplicated=duplicated,
                   recovery_seconds=round(recovery, 2),
                   notes={"requests_received": len(receiver.received), "rows": rows})


def worker_killed_sending_a_removal_request(stack: Stack, *, whole_node: bool = True, seed: int = 0) -> Outcome:
    """kill -9 the worker after it handed a removal request to the mail server, before it recorded it as sent.

    The request must end sent exactly once (one send, one audit event); the host may get the e-mail again, with
    the same reference, which is the at-least-once edge of any e-mail: there is no way to unsend one.
    """
    marker = _marker()
    if stack.report_submit(marker=marker, image=drawn_png(seed)) != 302:
        raise StackError("the report was refused")
    facts, _ = _wait_complete(stack, [marker], time.monotonic())
    if not facts[marker].complete():
        raise StackError(f"the report was not processed: {facts[marker]}")
    stack.hold("email")
    try:
        removals = stack.case_confirm(marker=marker)
        email = [item["id"] for item in removals if item["channel"] == "email"]
        if len(email) != 1:
            raise StackError(f"expected one e-mailed removal request, got {removals}")
        pid = stack.reached("email")
        started = time.monotonic()
        if whole_node:
            stack.worker_kill()
        _kill(pid)
    finally:
        stack.release("email")
    if whole_node:
        stack.worker_start()
    request_id = email[0]
    try:
        wait_for(lambda: stack.removal_facts(request_id)[1] >= 1, RECOVERY_TIMEOUT, 0.1,
                 what="the removal request to be recorded as sent")
    except StackError:
        pass
    recovery = time.monotonic() - started
    state, send_count, sent_events = stack.removal_facts(request_id)
    requests = len(removals)
    lost = int(send_count == 0 or state != "sent")
    duplicated = int(send_count > 1 or sent_events > 1) + max(0, requests - 1)
    return Outcome(scenario="worker kill -9 sending a removal request" + (" (whole node)" if whole_node else
                                                                           " (pool process)"),
                   survived=lost == 0 and duplicated == 0, lost=lost, duplicated=duplicated,
                   recovery_seconds=round(recovery, 2),
                   notes={"state": state, "send_count": send_count, "sent_events": sent_events,
                          "emails_handed_to_mail_server": stack.emails_for(request_id)})


def _pool_pid(stack: Stack) -> int:
    """The pid of the worker's pool process (the child of the worker's main process)."""
    main = stack.procs["worker"].pid
    children = open(f"/proc/{main}/task/{main}/children").read().split()
    if not children:
        raise StackError("the worker has no pool process")
    return int(children[0])


def web_killed_mid_request(stack: Stack, *, seed: int = 0) -> Outcome:
    """kill -9 the gunicorn worker serving a report after it wrote the encrypted file, before the commit.

    The person's browser sees the connection drop and they submit again (here: the client retries until the form
    answers). Nothing half-written may become a case; the retry must make exactly one.
    """
    marker = _marker()
    image = drawn_png(seed)
    orphans_before = stack.orphan_files()
    stack.hold("web")
    first: dict[str, Any] = {}

    def submit() -> None:
        try:
            first["status"] = stack.report_submit(marker=marker, image=image)
        except OSError as exc:
            first["error"] = type(exc).__name__

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        pid = stack.reached("web")
        started = time.monotonic()
        _kill(pid)
    finally:
        stack.release("web")
    thread.join(30)
    half_written = stack.case_facts(marker).cases
    retries = 0

    def retry() -> bool:
        nonlocal retries
        retries += 1
        return stack.report_submit(marker=marker, image=image) == 302

    wait_for(retry, RECOVERY_TIMEOUT, 0.1, what="the web process to take the report again")
    accepted = time.monotonic() - started
    facts, recovery = _wait_complete(stack, [marker], started)
    outcome = _case_outcome("web process kill -9 mid-request", facts, recovery,
                            first_attempt=first.get("status") or first.get("error"),
                            committed_before_kill=half_written, retries=retries,
                            accepted_again_after_s=round(accepted, 2),
                            orphan_files_left=stack.orphan_files() - orphans_before)
    if half_written:
        outcome.survived = False
        outcome.duplicated += 1
    return outcome


def redis_restarted(stack: Stack, *, seed: int = 0) -> Outcome:
    """Crash Redis (kill -9, no persistence: every queued and unacknowledged message is gone) while a worker is in
    the middle of a task and another report's task waits in the queue; start it again empty."""
    in_flight, queued = _marker(), _marker()
    stack.hold("hash")
    try:
        if stack.report_submit(marker=in_flight, image=drawn_png(seed)) != 302:
            raise StackError("the first report was refused")
        stack.reached("hash")
        if stack.report_submit(marker=queued, image=drawn_png(seed + 1)) != 302:
            raise StackError("the second report was refused")
        time.sleep(0.3)  # let the relay/after-commit publish put it in the queue
        started = time.monotonic()
        stack.redis_kill()
        time.sleep(0.5)
        stack.redis_start()
    finally:
        stack.release("hash")
    facts, recovery = _wait_complete(stack, [in_flight, queued], started)
    return _case_outcome("Redis kill -9 and restart (queues lost)", facts, recovery)


def report_while_broker_down(stack: Stack, *, seed: int = 0, down_seconds: float = 2.0) -> Outcome:
    """Submit a report while Redis is down: it must be accepted, and processed once Redis is back."""
    marker = _marker()
    stack.redis_kill()
    began = time.monotonic()
    try:
        status = stack.report_submit(marker=marker, image=drawn_png(seed))
        answered = time.monotonic() - began
        time.sleep(max(0.0, down_seconds - answered))
    finally:
        stack.redis_start()
    started = time.monotonic()
    facts, recovery = _wait_complete(stack, [marker], started)
    outcome = _case_outcome("report submitted while the broker is down", facts, recovery, status=status,
                            answered_in_s=round(answered, 2))
    if status != 302:
        outcome.survived = False
        outcome.lost = max(outcome.lost, 1)
    return outcome


def postgres_restarted(stack: Stack, *, seed: int = 0) -> Outcome:
    """Crash PostgreSQL (immediate stop) while a worker is in the middle of hashing, try to file a report while it
    is down, start it again. The in-flight task fails and is published again by the outbox; the report refused
    while the database was down is filed again by the person and must exist once."""
    in_flight, during = _marker(), _marker()
    stack.hold("hash")
    try:
        if stack.report_submit(marker=in_flight, image=drawn_png(seed)) != 302:
            raise StackError("the first report was refused")
        stack.reached("hash")
        started = time.monotonic()
        stack.pg_stop("immediate")
    finally:
        stack.release("hash")
    try:
        refused: Any = stack.report_submit(marker=during, image=drawn_png(seed + 1), timeout=15)
    except OSError as exc:
        refused = type(exc).__name__
    time.sleep(0.5)
    stack.pg_start()
    statuses: list[Any] = []

    def accepted() -> bool:
        try:
            statuses.append(stack.report_submit(marker=during, image=drawn_png(seed + 1)))
        except OSError as exc:
            statuses.append(type(exc).__name__)
        return statuses[-1] == 302

    wait_for(accepted, RECOVERY_TIMEOUT, 0.2, what="the web process to accept reports again")
    facts, recovery = _wait_complete(stack, [in_flight, during], started)
    return _case_outcome("PostgreSQL crash and restart", facts, recovery, status_while_down=refused,
                         statuses_after_restart=statuses)


SCENARIOS: dict[str, Callable[..., Outcome]] = {
    "worker-hash-pool": lambda stack, seed=0, **_: worker_killed_while_hashing(stack, whole_node=False, seed=seed),
    "worker-hash-node": lambda stack, seed=0, **_: worker_killed_while_hashing(stack, whole_node=True, seed=seed),
    "worker-webhook-pool": lambda stack, receiver, **_: worker_killed_during_webhook(stack, receiver,
                                                                                      whole_node=False),
    "worker-webhook-node": lambda stack, receiver, **_: worker_killed_during_webhook(stack, receiver,
                                                                                      whole_node=True),
    "worker-removal-node": lambda stack, seed=0, **_: worker_killed_sending_a_removal_request(stack, seed=seed),
    "web-kill": lambda stack, seed=0, **_: web_killed_mid_request(stack, seed=seed),
    "redis-restart": lambda stack, seed=0, **_: redis_restarted(stack, seed=seed),
    "broker-down-submit": lambda stack, seed=0, **_: report_while_broker_down(stack, seed=seed),
    "postgres-restart": lambda stack, seed=0, **_: postgres_restarted(stack, seed=seed),
}
