"""A small SMTP server for tests: it records each transaction and answers RCPT as it is told (no network access)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes


@dataclass
class FakeSMTP:
    # Recipient address -> the reply to give its RCPT TO ("550 5.1.1 <x>: user unknown").
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str = "250 2.0.0 Ok: queued as 7F3A1"
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def start(self) -> FakeSMTP:
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 fake.test ESMTP")
                mail_from, recipients = "", []
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    command = line.decode(errors="replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-fake.test\r\n250 8BITMIME\r\n")
                    elif verb == "HELO" or verb == "NOOP":
                        self.reply("250 fake.test")
                    elif verb == "MAIL":
                        mail_from, recipients = command.split(":", 1)[1].strip().strip("<>"), []
                        self.reply("250 2.1.0 Ok")
                    elif verb == "RCPT":
                        address = command.split(":", 1)[1].strip().strip("<>")
                        answer = fake.rcpt_replies.get(address, "250 2.1.5 Ok")
                        if answer.startswith("250"):
                            recipients.append(address)
                        self.reply(answer)
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while True:
                            data_line = self.rfile.readline()
                            if data_line in (b".\r\n", b""):
                                break
                            lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                        if fake.data_reply.startswith("250"):
                            fake.received.append(Received(mail_from, recipients, b"".join(lines)))
                        self.reply(fake.data_reply)
                    elif verb == "RSET":
                        mail_from, recipients = "", []
                        self.reply("250 2.0.0 Ok")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 Bye")
                        return
                    else:
                        self.reply("502 5.5.2 Error: command not recognized")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def smtp_serving(settings: Any) -> Iterator[FakeSMTP]:
    """A FakeSMTP with Django's SMTP backend pointed at it (plain, no authentication) for the block."""
    server = FakeSMTP().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = False, False
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "", ""
    try:
        yield server
    finally:
        server.stop()
