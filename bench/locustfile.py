"""Locust load for the whole platform: victims reporting with images, victims checking their case, partners
looking hashes up. Driven by bench/load_soak.py (which starts the production stack and passes the settings
below); it can also be pointed at any running stack:

    LOAD_PARTNER_KEY=tdk_... LOAD_BANK_SAMPLE=sample.txt locust -f bench/locustfile.py --headless \
        -u 12 -r 12 -t 60s --host http://127.0.0.1:8000 VictimUser PartnerUser

The stack is reached as it is in production, behind a TLS-terminating proxy: every request carries
``X-Forwarded-Proto: https`` (the server runs with SECURE_PROXY_SSL_HEADER=true) and the client address in
``X-Forwarded-For`` (TRUST_X_FORWARDED_FOR=true). Each simulated victim journey comes from its own address,
so the per-address limits on case sign-ins stay at their production values and are never hit, and the
session and CSRF cookies keep their Secure flag (the cookie jar here treats the loopback hop as the proxy's
TLS). CSRF is honoured: each form is fetched first and posted back with its token and an Origin header.

Request names (one row each in locust's statistics):
- ``report form``, ``submit report`` (multipart POST with 1-2 images drawn here), ``receipt page``;
- ``sign-in form``, ``sign-in`` (case reference + secret, argon2id-checked), ``status page``;
- ``lookup`` (partner: single PDQ lookup, API key).

Settings (environment): LOAD_PARTNER_KEY (a partner API key with the lookup scope), LOAD_BANK_SAMPLE (a file
of banked PDQ hashes, one per line: half the lookups are near-duplicates of them), LOAD_LOOKUP_RPS (lookups a
second per PartnerUser, default 10), LOAD_STATUS_VIEWS (status page views per sign-in, default 3),
LOAD_RECORD (a file each accepted report's case reference is appended to, so the driver can check that none
was lost), LOAD_VICTIMS and LOAD_PARTNERS (how many users of each class; 0: by weight).
"""

from __future__ import annotations

import http.cookies
import io
import os
import random
import re
import threading
from typing import Any

from locust import FastHttpUser, HttpUser, between, constant_throughput, task
from PIL import Image, ImageDraw

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_REFERENCE = re.compile(r'id="case-reference">([^<]+)<')
_SECRET = re.compile(r'id="case-secret">([^<]+)<')
_record_lock = threading.Lock()


def draw_image(seed: int, size: tuple[int, int] = (640, 480)) -> bytes:
    """Shapes drawn from a seed: never a photograph, never a person."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(14):
        x0, y0 = rnd.randrange(size[0]), rnd.randrange(size[1])
        x1, y1 = x0 + rnd.randrange(30, 260), y0 + rnd.randrange(30, 200)
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


class Browser:
    """A browser's cookies behind the proxy's HTTPS: the Secure cookies the server sets are sent back over the
    loopback hop (requests' own jar withholds them from http:// addresses)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def keep(self, response: Any) -> None:
        raw = getattr(response, "raw", None)
        for line in raw.headers.getlist("Set-Cookie") if raw is not None else []:
            jar = http.cookies.SimpleCookie()
            jar.load(line)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)  # deleted by the server
                else:
                    self.cookies[name] = morsel.value


class VictimUser(HttpUser):
    """One journey after another: report with images, note the reference and secret, come back to the case
    with them and look at its status page a few times. A new address and a new browser (cookies) each time."""

    wait_time = between(1, 3)
    weight = 1
    fixed_count = int(os.environ.get("LOAD_VICTIMS", "0"))

    def on_start(self) -> None:
        self.rnd = random.Random()
        self.views = int(os.environ.get("LOAD_STATUS_VIEWS", "3"))
        self.record = os.environ.get("LOAD_RECORD", "")

    def _fresh_browser(self) -> None:
        self.client.cookies.clear()
        self.browser = Browser()
        address = f"10.{self.rnd.randrange(256)}.{self.rnd.randrange(256)}.{self.rnd.randrange(1, 255)}"
        origin = "https://" + self.host.split("://", 1)[1].rstrip("/")
        self.client.headers.update({"X-Forwarded-Proto": "https", "X-Forwarded-For": address, "Origin": origin,
                                    "Referer": origin + "/"})

    def _get(self, path: str, name: str, **kwargs: Any) -> Any:
        return self.client.get(path, name=name, headers=self.browser.header(), catch_response=True, **kwargs)

    def _post(self, path: str, name: str, **kwargs: Any) -> Any:
        return self.client.post(path, name=name, headers=self.browser.header(), catch_response=True,
                                allow_redirects=False, **kwargs)

    def _token(self, path: str, name: str) -> str | None:
        with self._get(path, name) as response:
            self.browser.keep(response)
            found = _TOKEN.search(response.text or "")
            if response.status_code != 200 or not found:
                response.failure(f"{response.status_code}: no form")
                return None
            return found.group(1)

    @task
    def journey(self) -> None:
        self._fresh_browser()
        token = self._token("/report/", "report form")
        if token is None:
            return
        seed = self.rnd.getrandbits(48)
        files = [("images", (f"image{i}.jpg", draw_image(seed + i), "image/jpeg"))
                 for i in range(self.rnd.choice((1, 1, 2)))]
        data = {"csrfmiddlewaretoken": token, "content_kind": self.rnd.choice(("deepfake", "real", "unsure")),
                "urls": f"https://images.example.net/{seed:x}.jpg\nhttps://forum.example.org/t/{seed % 99991}",
                "description": "", "authority": "self", "good_faith": "on", "authorise_agent": "on",
                "signature": "L. T.", "contact": ""}
        with self._post("/report/", "submit report", data=data, files=files) as response:
            self.browser.keep(response)
            if response.status_code != 302 or not response.headers.get("Location", "").endswith("/report/done/"):
                response.failure(f"{response.status_code}: report not accepted")
                return
        with self._get("/report/done/", "receipt page") as response:
            self.browser.keep(response)
            reference = _REFERENCE.search(response.text or "")
            secret = _SECRET.search(response.text or "")
            if response.status_code != 200 or not reference or not secret:
                response.failure(f"{response.status_code}: no reference and secret shown")
                return
        reference_text, secret_text = reference.group(1).strip(), secret.group(1).strip()
        if self.record:
            with _record_lock, open(self.record, "a") as handle:
                handle.write(reference_text + "\n")
        self._come_back(reference_text, secret_text)

    def _come_back(self, reference: str, secret: str) -> None:
        self._fresh_browser()  # another day, another device
        token = self._token("/case/", "sign-in form")
        if token is None:
            return
        with self._post("/case/", "sign-in",
                        data={"csrfmiddlewaretoken": token, "reference": reference, "secret": secret}) as response:
            self.browser.keep(response)
            if response.status_code != 302 or not response.headers.get("Location", "").endswith("/case/status/"):
                response.failure(f"{response.status_code}: case not opened")
                return
        for _ in range(self.views):
            with self._get("/case/status/", "status page", allow_redirects=False) as response:
                self.browser.keep(response)
                if response.status_code != 200 or reference not in (response.text or ""):
                    response.failure(f"{response.status_code}: status page without the case")
                    return
            self.wait()


class PartnerUser(FastHttpUser):
    """A partner platform checking uploads: single PDQ lookups at a steady rate, half of them near-duplicates
    (0-31 bits flipped) of banked hashes, half unknown images."""

    weight = 1
    fixed_count = int(os.environ.get("LOAD_PARTNERS", "0"))
    wait_time = constant_throughput(float(os.environ.get("LOAD_LOOKUP_RPS", "10")))

    def on_start(self) -> None:
        self.rnd = random.Random()
        path = os.environ.get("LOAD_BANK_SAMPLE", "")
        self.banked = [line.strip() for line in open(path) if line.strip()] if path else []
        self.headers = {"Authorization": f"Bearer {os.environ['LOAD_PARTNER_KEY']}", "X-Forwarded-Proto": "https"}

    def _query(self) -> str:
        if self.banked and self.rnd.random() < 0.5:
            number = int(self.rnd.choice(self.banked), 16)
            for bit in self.rnd.sample(range(256), self.rnd.randint(0, 31)):
                number ^= 1 << bit
            return f"{number:064x}"
        return f"{self.rnd.getrandbits(256):064x}"

    @task
    def lookup(self) -> None:
        with self.client.get(f"/api/v1/lookup?signal_type=pdq&hash={self._query()}", headers=self.headers,
                             name="lookup", catch_response=True) as response:
            if response.status_code != 200 or "matches" not in (response.text or ""):
                response.failure(f"{response.status_code}")
