"""Court export: build time, ZIP size and verify time of a case with many URLs, requests and images.

Run: .venv/bin/python bench/export_case.py [--urls 1000] [--images 0,10,50] [--runs 3]

Each case has --urls URLs on as many hosts, so one removal request per URL (each with its events: prepared,
sent, acknowledged, complied or escalated; each removal request's e-mail stored as sent, about 3 KB, cited as an
exhibit), a blocking and two de-linking requests, partner feedback, a verdict
on every image and the audit rows all of that leaves. Images are drawn photos (--image-size, JPEG, about the
size of a phone picture once re-encoded), stored encrypted as intake stores them, and included in the export
(the advocate's grant has the person's consent). Prints one line per figure: median of --runs builds, of
--runs in-process verifications, and one `manage.py verify_export` run as a court would (process start
included). Wall times depend on the machine's load (printed before and after); the build's CPU time (this
process only) is printed beside them. Uses a fresh SQLite database under a temporary VAR_DIR unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import django

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from PIL import Image  # noqa: E402

from takedown.cases.models import Case, CaseImage, CaseURL  # noqa: E402
from takedown.core.audit import Actor, audit_record  # noqa: E402
from takedown.core.evidence import evidence_put  # noqa: E402
from takedown.core.roles import ADVOCATE, roles_ensure  # noqa: E402
from takedown.exports.dossier import DossierOptions, dossier_assemble, section_audit  # noqa: E402
from takedown.exports.keys import export_keys_generate  # noqa: E402
from takedown.exports.pdf import case_pdf_render  # noqa: E402
from takedown.exports.services import (  # noqa: E402
    advocate_profile_ensure,
    case_export_build,
    grant_create_by_victim,
)
from takedown.exports.verify import export_verify  # noqa: E402
from takedown.partners.models import Partner, PartnerFeedback, PartnerFeedbackCase  # noqa: E402
from takedown.remedies.models import (  # noqa: E402
    Channel,
    DeliveryState,
    Host,
    RemedyRequest,
    RequestEvent,
    RequestKind,
    RequestState,
    SentMessage,
)
from tests.conftest import draw_image  # noqa: E402

VERDICT = {
    "version": 1, "label": "likely_generated", "supports_digital_forgery": True,
    "reasons": ["detector 0.91 at or above threshold 0.50 (npr, weights 0123456789ab)"],
    "limits": ["A detector score is a statistical estimate, not proof.", "Missing provenance proves nothing."],
    "detector": {"status": {"enabled": True, "reason": "", "architecture": "npr", "weights_sha256": "ab" * 32,
                            "device": "cpu", "precision": "fp32", "threshold": 0.5}, "score": 0.91, "error": ""},
    "provenance": {"format": "jpeg", "signals": [], "unreadable": [],
                   "skipped": ["metadata: removed at intake"]},
}


def photo(seed: int, size: tuple[int, int]) -> bytes:
    image = Image.open(io.BytesIO(draw_image(seed, size, "PNG"))).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def case_build(reference: str, *, urls: int, images: int, image_size: tuple[int, int]) -> Case:
    now = timezone.now() - timedelta(days=3)
    case = Case.objects.create(reference=reference, secret_hash="!", pseudonym="Jane Doe 1000",
                               content_kind="deepfake", status="confirmed", signature="x", good_faith_at=now,
                               confirmed_at=now)
    audit_record(actor=Actor.victim(), action="case.submit", case_id=case.id, object_type="case", object_id=case.id)
    hosts = Host.objects.bulk_create([
        Host(domain=f"h{i}.{reference.lower()}.example", name=f"Host {i}", abuse_email=f"abuse@h{i}.example",
             jurisdiction="DE" if i % 3 == 0 else "US", contact_source=Host.ContactSource.DIRECTORY)
        for i in range(urls)])
    CaseURL.objects.bulk_create([
        CaseURL(case=case, url=f"https://{host.domain}/media/{i}/clip?id={i * 7919}", host=host.domain,
                platform=host.domain) for i, host in enumerate(hosts)])
    requests = []
    for i, host in enumerate(hosts):
        sent = now + timedelta(minutes=i % 60)
        complied = i % 4 != 3
        requests.append(RemedyRequest(
            case=case, kind=RequestKind.REMOVAL, host=host, channel=Channel.EMAIL, dsa_notice=i % 3 == 0,
            urls=[f"https://{host.domain}/media/{i}/clip?id={i * 7919}"], sent_at=sent, last_sent_at=sent,
            send_count=1, received_at=sent, deadline_at=sent + timedelta(hours=48),
            acknowledged_at=sent + timedelta(hours=2),
            complied_at=sent + timedelta(hours=5 + i % 60) if complied else None,
            overdue_at=None if complied else sent + timedelta(hours=48),
            state=RequestState.COMPLIED if complied else RequestState.ACKNOWLEDGED))
    engines = [Host.objects.get_or_create(domain=d, defaults={"name": n, "kind": "search_engine"})[0]
               for d, n in (("google.com", "Google Search"), ("bing.com", "Microsoft Bing"))]
    all_urls = [u for r in requests for u in r.urls]
    requests += [RemedyRequest(case=case, kind=RequestKind.DELINKING, host=e, channel=Channel.WEB_FORM, urls=all_urls,
                               sent_at=now, state=RequestState.SENT) for e in engines]
    requests.append(RemedyRequest(case=case, kind=RequestKind.BLOCKING, channel=Channel.HASH_BANK, sent_at=now,
                                  state=RequestState.COMPLIED, complied_at=now + timedelta(hours=1)))
    RemedyRequest.objects.bulk_create(requests)
    events = []
    for request in requests:
        sent = request.sent_at or now
        steps = [("created", sent), ("sent", sent)]
        if request.acknowledged_at:
            steps.append(("acknowledged", request.acknowledged_at))
        if request.complied_at:
            steps.append(("complied", request.complied_at))
        if request.overdue_at:
            steps += [("escalated_24h", sent + timedelta(hours=24)), ("escalated_40h", sent + timedelta(hours=40)),
                      ("overdue", request.overdue_at)]
        events += [RequestEvent(request=request, at=at, action=action, actor_kind="system", note="bench")
                   for action, at in steps]
    RequestEvent.objects.bulk_create(events)
    # Each removal request as it left: an e-mail of about 3 KB, stored encrypted, cited as an exhibit.
    messages = []
    for request in requests:
        if request.kind != RequestKind.REMOVAL or request.host is None or request.sent_at is None:
            continue
        message = SentMessage(request=request, channel=Channel.EMAIL, recipient=f"abuse@{request.host.domain}",
                              recipient_guessed=False, message_id=f"<{request.id}@bench.example>",
                              content_type="message/rfc822", sent_at=request.sent_at,
                              delivery=DeliveryState.ACCEPTED, delivery_at=request.sent_at,
                              delivery_detail="250 2.0.0 queued")
        body = (f"From: takedown@bench.example\r\nTo: abuse@{request.host.domain}\r\nSubject: Removal request "
                f"{request.id}\r\nMessage-ID: {message.message_id}\r\n\r\n" + "Body line.\r\n" * 250).encode()
        message.set_body(body)
        messages.append(message)
    SentMessage.objects.bulk_create(messages)
    for request in requests:  # the audit rows the real services leave: one on sending, one on each answer
        audit_record(actor=Actor.system(), action="remedies.request_sent", case_id=case.id,
                     object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
        if request.complied_at:
            audit_record(actor=Actor.system(), action="remedies.request_complied", case_id=case.id,
                         object_type="remedy_request", object_id=request.id, detail={"kind": request.kind})
    partner, _ = Partner.objects.get_or_create(name="Bench partner")
    for value in ("PendingReview", "Blocked", "Removed"):
        feedback = PartnerFeedback.objects.create(partner=partner, value=value, bank_entry_id=1)
        PartnerFeedbackCase.objects.create(feedback=feedback, case_id=case.id)
    for seed in range(images):
        data = photo(seed, image_size)
        CaseImage.objects.create(case=case, source=CaseImage.Source.UPLOAD, state=CaseImage.State.HASHED,
                                 blob_name=evidence_put(data), media_type="image/jpeg", size=len(data),
                                 width=image_size[0], height=image_size[1], sha256=f"{seed:064x}",
                                 md5=f"{seed:032x}", pdq="ab" * 32, pdq_quality=90,
                                 analysis={**VERDICT, "bank": {"available": True,
                                                                "matches": [{"entry": "7", "distance": 9}]}})
    return case


def median_s(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--images", default="0,10,50", help="comma-separated image counts, one case each")
    parser.add_argument("--image-size", default="1600x1200")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.image_size.split("x"))
    call_command("migrate", verbosity=0)
    keys = Path(tempfile.mkdtemp(prefix="export-bench-keys-"))
    export_keys_generate(out=keys, operator="Bench operator")
    overrides = {"EXPORT_SIGNING_KEY_FILE": str(keys / "signing-key.pem"),
                 "EXPORT_TSA_CA_FILE": str(keys / "tsa-ca.pem"), "EXPORT_TSA_CERT_FILE": str(keys / "tsa.pem"),
                 "EXPORT_TSA_KEY_FILE": str(keys / "tsa.key.pem"), "EXPORT_TSA_URL": ""}
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; database "
          f"{settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; cores {os.cpu_count()}")
    roles_ensure()
    advocate = User.objects.create_user(username=f"bench-advocate-{time.time_ns()}")
    advocate.groups.add(roles_ensure()[ADVOCATE])
    code = advocate_profile_ensure(user=advocate).grant_code
    with override_settings(**overrides):
        for count in (int(v) for v in args.images.split(",")):
            reference = f"BENCH-{args.urls}-{count}-{time.time_ns() % 10**6}"
            started = time.perf_counter()
            case = case_build(reference, urls=args.urls, images=count, image_size=(width, height))
            setup = time.perf_counter() - started
            grant = grant_create_by_victim(case=case, advocate_code=code, days=30, images_consented=True,
                                           identity_for_court="")
            builds, build_cpu, verifies = [], [], []
            result = None
            for _ in range(args.runs):
                started, cpu = time.perf_counter(), time.process_time()
                result = case_export_build(case=case, actor=Actor.system(), grant=grant, include_images=count > 0)
                builds.append(time.perf_counter() - started)
                build_cpu.append(time.process_time() - cpu)
            assert result is not None
            for _ in range(args.runs):
                started = time.perf_counter()
                report = export_verify(result.data, trusted_key_pem=(keys / "signing-key.pub.pem").read_bytes())
                verifies.append(time.perf_counter() - started)
                assert report.ok, report.first_failure
            # Where a build's time goes: the dossier (database reads, request documents) and the PDF.
            options = DossierOptions(generated_at=timezone.now())
            started = time.perf_counter()
            dossier = dossier_assemble(case, options)
            assembled = time.perf_counter() - started
            started = time.perf_counter()
            pdf = case_pdf_render(dossier, section_audit(case, options))
            rendered = time.perf_counter() - started
            path = keys / f"{reference}.zip"
            path.write_bytes(result.data)
            started = time.perf_counter()
            command = subprocess.run([sys.executable, "manage.py", "verify_export", str(path), "--pubkey",
                                      str(keys / "signing-key.pub.pem")], cwd=REPO,
                                     capture_output=True, text=True, env={**os.environ})
            command_s = time.perf_counter() - started
            assert command.returncode == 0, command.stderr
            requests = len(dossier["requests"])
            print(f"urls={args.urls} requests={requests} images={count} ({width}x{height} JPEG): "
                  f"build {median_s(builds):.2f} s (min {min(builds):.2f}, CPU {median_s(build_cpu):.2f}), "
                  f"zip {len(result.data) / 2**20:.1f} MiB, "
                  f"case.pdf {len(pdf) / 2**20:.2f} MiB; of a build: dossier {assembled:.2f} s, pdf {rendered:.2f} s; "
                  f"verify in-process {median_s(verifies):.2f} s, verify_export command {command_s:.2f} s "
                  f"(setup {setup:.0f} s)")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
