"""A private production stack for fault tests: its own PostgreSQL cluster and Redis server on free ports, a
gunicorn web process, a Celery worker and the outbox relay, all real processes that a test may kill -9.

Nothing here touches the shared PostgreSQL (5432) or Redis (6379) that the rest of the suite uses: the cluster is
made with `initdb` in a temporary directory and thrown away, and Redis runs without persistence on its own port.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# Hashes intake enters into the bank per image (victims.hashbank): PDQ, pHash, dHash, MD5, SHA-256.
BANK_SIGNALS = 5


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin(name: str) -> str | None:
    for folder in sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), reverse=True):
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name)


def missing_tools() -> list[str]:
    """What this machine lacks to run the fault tests (empty when they can run)."""
    missing = [name for name in ("initdb", "pg_ctl") if pg_bin(name) is None]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (initdb refuses root)")
    try:
        import gunicorn  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        missing.append(exc.name or "gunicorn/psycopg")
    return missing


def wait_for(check: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:  # the thing waited for may raise until it is ready
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    detail = f" ({last_error!r})" if last_error else ""
    raise StackError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")


class Proc:
    """A child process in its own session, with its output in a log file."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT,
                 user: str | None = None) -> None:
        if user:
            args = ["runuser", "-u", user, "--", *args]
        self.name = name
        self.log = log
        self.handle = log.open("ab")
        self.popen = subprocess.Popen(args, cwd=cwd, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the process and every child it forked."""
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.popen.wait(timeout=10)
        self.handle.close()

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    base: Path
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    database: str = "takedown_faults"
    procs: dict[str, Proc] = field(default_factory=dict)
    _sql: Any = None
    evidence_key: str = ""

    # --- set-up and tear-down --------------------------------------------------------------------------------

    @property
    def fault_dir(self) -> Path:
        return self.base / "fault"

    @property
    def storage(self) -> Path:
        return self.base / "var" / "storage"

    @property
    def pg_data(self) -> Path:
        return self.base / "pg" / "data"

    @property
    def pg_user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "CELERY_", "REDIS_URL"))}
        env.update({
            "DJANGO_SETTINGS_MODULE": "tests.reliability.fault_settings",
            "TAKEDOWN_TESTING": "true",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg_port}/{self.database}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "VAR_DIR": str(self.base / "var"),
            "STORAGE_ROOT": str(self.storage),
            "FAULT_DIR": str(self.fault_dir),
            "CACHE_KEY_PREFIX": "faults",
            "EVIDENCE_KEYS": self.evidence_key,
            "DJANGO_SECRET_KEY": "fault-stack-" + "k" * 50,
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def start(self) -> Stack:
        self.evidence_key = base64.b64encode(os.urandom(32)).decode()
        for folder in (self.fault_dir, self.storage, self.base / "pg", self.base / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        self.pg_init()
        self.pg_start()
        self.redis_start()
        self.manage("migrate", "--noinput", "-v0")
        self.web_start()
        self.worker_start()
        self.relay_start()
        return self

    def close(self) -> None:
        for proc in list(self.procs.values()):
            proc.stop()
        self.procs.clear()
        if self._sql is not None:
            try:
                self._sql.close()
            except Exception:
                pass
        if self.pg_data.exists():
            subprocess.run(self._pg_args("pg_ctl", "-D", str(self.pg_data), "-m", "immediate", "stop"),
                           capture_output=True, timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)

    def _pg_args(self, tool: str, *args: str) -> list[str]:
        binary = pg_bin(tool)
        if binary is None:
            raise StackError(f"{tool} not found")
        command = [binary, *args]
        return ["runuser", "-u", self.pg_user, "--", *command] if self.pg_user else command

    def pg_init(self) -> None:
        if self.pg_user:
            shutil.chown(self.base / "pg", user=self.pg_user)
            # initdb runs as postgres: every folder above the cluster must let it through.
            for parent in [self.base, *self.base.parents]:
                if parent == Path("/"):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)
        subprocess.run(self._pg_args("initdb", "-D", str(self.pg_data), "-U", "postgres", "--auth=trust", "-E",
                                     "UTF8", "--no-sync"), check=True, capture_output=True, timeout=120)

    def pg_start(self) -> None:
        # fsync off: the faults are process crashes, which leave the page cache (and so the data) intact.
        options = f"-p {self.pg_port} -k {self.base / 'pg'} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(self._pg_args("pg_ctl", "-D", str(self.pg_data), "-o", options, "-l",
                                     str(self.base / "pg" / "server.log"), "-w", "-t", "60", "start"),
                       check=True, capture_output=True, timeout=90)
        if not self._database_exists():
            self.sql(f'CREATE DATABASE "{self.database}"', database="postgres")

    def pg_stop(self, mode: str = "immediate") -> None:
        """Stop the server; `immediate` is a crash: no checkpoint, WAL replay on the next start."""
        self._reset_sql()
        subprocess.run(self._pg_args("pg_ctl", "-D", str(self.pg_data), "-m", mode, "-w", "stop"), check=True,
                       capture_output=True, timeout=60)

    def _database_exists(self) -> bool:
        rows = self.sql("SELECT 1 FROM pg_database WHERE datname = %s", [self.database], database="postgres")
        return bool(rows)

    def redis_start(self) -> None:
        # No persistence at all: a restart loses every queued and unacknowledged message, the worst case.
        self.procs["redis"] = Proc("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no", "--dir", str(self.base)],
                                   env=dict(os.environ), log=self.base / "logs" / "redis.log")
        wait_for(lambda: self._redis_ping(), 20, what="redis")

    def redis_kill(self) -> None:
        self.procs.pop("redis").kill()

    def _redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env(), capture_output=True,
                                text=True, timeout=timeout)
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr[-3000:]}")
        return result.stdout

    def web_start(self) -> None:
        self.procs["web"] = Proc("web", [sys.executable, "-m", "gunicorn", "takedown.wsgi:application", "--bind",
                                         f"127.0.0.1:{self.web_port}", "--workers", "2", "--timeout", "90",
                                         "--graceful-timeout", "2"],
                                 env=self.env(), log=self.base / "logs" / "web.log")
        wait_for(lambda: self.get("/healthz")[0] in (200, 503), 60, 0.2, what="gunicorn")

    def worker_start(self) -> None:
        self.procs["worker"] = Proc("worker", [sys.executable, "-m", "celery", "-A", "takedown", "worker", "--pool",
                                               "prefork", "--concurrency", "1", "-Q", "default,gpu", "-l", "WARNING",
                                               "--without-heartbeat", "--without-mingle", "--without-gossip"],
                                    env=self.env(), log=self.base / "logs" / "worker.log")

    def worker_kill(self) -> None:
        """kill -9 the whole worker: the main process and its pool (a node lost, an OOM kill of the container)."""
        self.procs.pop("worker").kill()

    def relay_start(self) -> None:
        self.procs["relay"] = Proc("relay", [sys.executable, "manage.py", "periodic"], env=self.env(),
                                   log=self.base / "logs" / "relay.log")

    # --- pause points (tests.reliability.faultapp) -------------------------------------------------------------

    def hold(self, point: str) -> None:
        (self.fault_dir / f"at-{point}").unlink(missing_ok=True)
        (self.fault_dir / f"hold-{point}").touch()

    def release(self, point: str) -> None:
        (self.fault_dir / f"hold-{point}").unlink(missing_ok=True)
        (self.fault_dir / f"at-{point}").unlink(missing_ok=True)

    def reached(self, point: str, timeout: float = 30) -> int:
        marker = self.fault_dir / f"at-{point}"
        return int(wait_for(lambda: marker.exists() and marker.read_text().strip(), timeout,
                            what=f"a process to reach pause point {point!r}"))

    # --- HTTP -----------------------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def get(self, path: str, timeout: float = 10) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=timeout) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def report_submit(self, *, marker: str, image: bytes, timeout: float = 30) -> int:
        """File a report through the real form (CSRF token, multipart upload). Returns the HTTP status.

        Raises OSError (connection refused or reset) when the web process is gone.
        """
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
        with opener.open(self.url("/report/"), timeout=timeout) as page:
            html = page.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        if token is None:
            raise StackError("no CSRF token on the report page")
        fields = {
            "csrfmiddlewaretoken": token.group(1),
            "content_kind": "deepfake",
            "urls": f"https://fault.example.org/{marker}",
            "description": "",
            "authority": "self",
            "good_faith": "on",
            "authorise_agent": "on",
            "signature": "F.T.",
            "contact": "",
        }
        body, content_type = _multipart(fields, [("images", "drawn.png", "image/png", image)])
        request = urllib.request.Request(self.url("/report/"), data=body, method="POST", headers={
            "Content-Type": content_type, "Referer": self.url("/report/"), "Origin": self.url("")})
        try:
            with opener.open(request, timeout=timeout) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    # --- what is stored ----------------------------------------------------------------------------------------

    def _reset_sql(self) -> None:
        if self._sql is not None:
            try:
                self._sql.close()
            except Exception:
                pass
            self._sql = None

    def sql(self, query: str, params: list[Any] | None = None, *, database: str | None = None) -> list[tuple[Any, ...]]:
        import psycopg

        if database is not None:
            with psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname=database,
                                 autocommit=True, connect_timeout=5) as conn:
                cursor = conn.execute(query, params)  # type: ignore[arg-type]
                return list(cursor.fetchall()) if cursor.description else []
        if self._sql is None or self._sql.closed:
            self._sql = psycopg.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname=self.database,
                                        autocommit=True, connect_timeout=5)
        try:
            cursor = self._sql.execute(query, params)
            return list(cursor.fetchall()) if cursor.description else []
        except psycopg.OperationalError:
            self._reset_sql()
            raise

    def case_facts(self, marker: str) -> CaseFacts:
        """Everything stored for the report filed with `marker`, counted, to tell "once" from "lost" and "twice"."""
        url = f"https://fault.example.org/{marker}"
        case_ids = [row[0] for row in self.sql("SELECT case_id FROM cases_caseurl WHERE url = %s", [url])]
        facts = CaseFacts(cases=len(case_ids))
        if len(case_ids) != 1:
            return facts
        case_id = case_ids[0]
        facts.status = self.sql("SELECT status FROM cases_case WHERE id = %s", [case_id])[0][0]
        facts.images = self.sql("SELECT count(*) FROM cases_caseimage WHERE case_id = %s", [case_id])[0][0]
        facts.hashed = self.sql("SELECT count(*) FROM cases_caseimage WHERE case_id = %s AND state = 'hashed' "
                                "AND pdq <> ''", [case_id])[0][0]
        facts.review_items = self.sql("SELECT count(*) FROM moderation_reviewitem WHERE case_id = %s",
                                      [case_id])[0][0]
        facts.submitted_events = self.sql("SELECT count(*) FROM core_auditevent WHERE case_id = %s AND "
                                          "action = 'case.submitted'", [case_id])[0][0]
        facts.queued_events = self.sql("SELECT count(*) FROM core_auditevent WHERE case_id = %s AND action = "
                                       "'case.processed' AND detail->>'queued' = 'true'", [case_id])[0][0]
        facts.process_messages = self.sql("SELECT count(*) FROM core_outboxmessage WHERE task = "
                                          "'victims.process_case' AND kwargs->>'case_id' = %s",
                                          [str(case_id)])[0][0]
        # The hash bank holds each hash once (a unique value) and names the case once per hash as a source.
        facts.bank_sources = self.sql("SELECT count(*) FROM detection_banksource WHERE kind = 'case' AND "
                                      "source_id = %s", [str(case_id)])[0][0]
        facts.bank_entries = self.sql("SELECT count(DISTINCT entry_id) FROM detection_banksource WHERE kind = "
                                      "'case' AND source_id = %s", [str(case_id)])[0][0]
        blobs = [row[0] for row in self.sql("SELECT blob_name FROM cases_caseimage WHERE case_id = %s AND "
                                            "blob_name <> ''", [case_id])]
        facts.files = sum(1 for name in blobs if self.evidence_path(name).exists())
        return facts

    def evidence_path(self, name: str) -> Path:
        hexname = uuid.UUID(name).hex
        return self.storage / "evidence" / hexname[:2] / hexname

    def orphan_files(self) -> int:
        """Evidence files on disk that no row names (left by a process killed between the write and the commit)."""
        root = self.storage / "evidence"
        on_disk = {path.name for path in root.glob("*/*") if path.is_file() and "." not in path.name}
        named = {uuid.UUID(row[0]).hex for row in self.sql("SELECT blob_name FROM cases_caseimage WHERE "
                                                            "blob_name <> ''")}
        return len(on_disk - named)

    def delivery_facts(self, marker: str) -> list[tuple[str, str, int]]:
        """(delivery id, status, attempts) of every webhook delivery of the event published with `marker`."""
        return [(str(row[0]), row[1], row[2]) for row in self.sql(
            "SELECT id, status, attempts FROM partners_webhookdelivery WHERE payload->'data'->>'marker' = %s",
            [marker])]

    def case_confirm(self, *, marker: str) -> list[dict[str, str]]:
        return list(json.loads(self.manage("fault_confirm", "--marker", marker).strip()))

    def removal_facts(self, request_id: str) -> tuple[str, int, int]:
        """(state, send_count, "sent" audit events) of one removal request."""
        rows = self.sql("SELECT state, send_count FROM remedies_remedyrequest WHERE id = %s", [request_id])
        if not rows:
            return ("missing", 0, 0)
        sent = self.sql("SELECT count(*) FROM core_auditevent WHERE action = 'remedies.request_sent' AND "
                        "object_id = %s", [request_id])[0][0]
        return (rows[0][0], rows[0][1], sent)

    def emails_for(self, request_id: str) -> int:
        """Messages the mail backend was handed for one request (its reference is in the subject and a header)."""
        folder = self.fault_dir / "mail"
        if not folder.exists():
            return 0
        return sum(1 for path in folder.iterdir() if f"X-Takedown-Reference: {request_id}" in
                   path.read_text(errors="replace"))

    def webhook_publish(self, *, url: str, marker: str) -> list[str]:
        return list(json.loads(self.manage("fault_webhook", "--url", url, "--marker", marker).strip()))


@dataclass
class CaseFacts:
    cases: int = 0
    status: str = ""
    images: int = 0
    hashed: int = 0
    review_items: int = 0
    submitted_events: int = 0
    queued_events: int = 0
    process_messages: int = 0
    files: int = 0
    bank_sources: int = 0
    bank_entries: int = 0

    def complete(self) -> bool:
        """Processed end to end: hashed, its five hashes (PDQ, pHash, dHash, MD5, SHA-256) in the bank, queued
        for moderation, file kept."""
        return (self.cases == 1 and self.status == "in_review" and self.images == 1 and self.hashed == 1
                and self.bank_sources == BANK_SIGNALS and self.bank_entries == BANK_SIGNALS
                and self.review_items == 1 and self.queued_events == 1 and self.files == 1)

    def duplicated(self) -> bool:
        return (self.cases > 1 or self.images > 1 or self.review_items > 1 or self.submitted_events > 1
                or self.queued_events > 1 or self.process_messages > 1 or self.bank_sources > BANK_SIGNALS
                or self.bank_sources > self.bank_entries)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _multipart(fields: dict[str, str], files: list[tuple[str, str, str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, content_type, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


@contextmanager
def running_stack() -> Iterator[Stack]:
    missing = missing_tools()
    if missing:
        raise StackError(f"cannot build the fault stack, missing: {', '.join(missing)}")
    stack = Stack(base=Path(tempfile.mkdtemp(prefix="takedown-faults-")))
    try:
        yield stack.start()
    finally:
        stack.close()
