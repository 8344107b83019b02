"""Each request renders as PDF, text and JSON from one template through one code path, with every legal element."""

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from takedown.core.audit import Actor
from takedown.remedies.documents import request_document, request_render
from takedown.remedies.models import RemedyRequest, RequestKind
from takedown.remedies.services import remedies_generate_for_case
from tests.remedies.factory import CONTACT, SIGNATURE, case_make, confirm, host_make

pytestmark = pytest.mark.django_db

TIDA_ELEMENTS = ("1. Signature", "2. Identification and location", "3. Statement of good faith",
                 "4. Contact information")
DSA_ELEMENTS = ("Article 16", "(a) Why the content is illegal", "(b) Exact electronic locations", "(c) Notifier",
                "(d) The notifier confirms its bona fide belief")


def _requests(jurisdiction: str = "US") -> dict[str, RemedyRequest]:
    host_make("pics.example", jurisdiction=jurisdiction, name="Pics Host")
    case = confirm(case_make(urls=[("https://pics.example/a/1", "pics.example"),
                                   ("https://pics.example/ü/2?x=1&y=2", "pics.example")]))
    remedies_generate_for_case(case=case, actor=Actor.system())
    out = {}
    for request in RemedyRequest.objects.filter(case=case).select_related("case", "host"):
        if request.kind != RequestKind.DELINKING or request.host.domain == "google.com":
            out.setdefault(request.kind, request)
    return out


def _pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_removal_request_carries_the_four_elements_in_every_format() -> None:
    removal = _requests()["removal"]
    text = request_render(removal, "txt")[0].decode()
    pdf = _squash(_pdf_text(request_render(removal, "pdf")[0]))
    data = json.loads(request_render(removal, "json")[0])
    for element in TIDA_ELEMENTS:
        assert element in text and element in pdf
    tid = data["take_it_down"]
    # Element (i): the signature the person chose, in their capacity; the operator is named as their agent.
    assert tid["signature"]["electronic_signature"] == f"/s/ {SIGNATURE}"
    assert tid["signature"]["capacity"] == "the identifiable individual depicted"
    assert tid["signature"]["agent"]["name"] and tid["signature"]["agent"]["authorised_at"]
    assert f"/s/ {SIGNATURE}" in text and "authorised agent" in text
    assert tid["identification_and_location"]["urls"] == ["https://pics.example/a/1",
                                                          "https://pics.example/%C3%BC/2?x=1&y=2"]
    assert "good-faith belief" in tid["good_faith_statement"] and "digital forgery" in tid["good_faith_statement"]
    assert tid["contact"]["email"] and tid["removal_deadline_hours"] == 48
    assert data["missing_elements"] == []
    # URLs travel as URIs (ASCII), so the PDF's Latin-1 font prints exactly what the JSON says.
    assert "https://pics.example/%C3%BC/2?x=1&y=2" in text and "pics.example/%C3%BC/2?x=1&y=2" in pdf.replace(" ", "")
    assert data["images"][0]["pdq"] and data["images"][0]["sha256"] in text
    assert "dsa_notice" not in data and "Article 16" not in text


def test_eu_host_gets_the_dsa_article_16_elements() -> None:
    removal = _requests(jurisdiction="IE")["removal"]
    text = _squash(request_render(removal, "txt")[0].decode())
    pdf = _squash(_pdf_text(request_render(removal, "pdf")[0]))
    for element in DSA_ELEMENTS:
        assert element in text and element in pdf
    dsa = json.loads(request_render(removal, "json")[0])["dsa_notice"]
    assert dsa["transparency_database"]["category"] == "STATEMENT_CATEGORY_CYBER_VIOLENCE"
    assert dsa["transparency_database"]["keywords"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING",
                                                        "KEYWORD_NON_CONSENSUAL_MATERIAL_DEEPFAKE"]
    assert dsa["transparency_database"]["content_type"] == ["SYNTHETIC_MEDIA"]
    assert dsa["notifier"]["email"] and dsa["exact_electronic_locations"]


def test_the_person_is_named_only_by_pseudonym_and_their_chosen_signature() -> None:
    for request in _requests(jurisdiction="IE").values():
        signed = request.kind in ("removal", "delinking")
        for fmt in ("txt", "json"):
            body = request_render(request, fmt)[0].decode()
            assert request.case.pseudonym in body
            assert CONTACT not in body and (SIGNATURE in body) is signed
        pdf = _squash(_pdf_text(request_render(request, "pdf")[0]))
        assert CONTACT not in pdf and (SIGNATURE in pdf) is signed


def test_one_code_path_the_json_carries_the_same_text_as_the_txt() -> None:
    for request in _requests().values():
        data = json.loads(request_render(request, "json")[0])
        assert data["text"] == request_render(request, "txt")[0].decode()
        assert data["title"] == request_document(request).title


def test_delinking_and_blocking_documents() -> None:
    requests = _requests()
    delink = _squash(request_render(requests["delinking"], "txt")[0].decode())
    assert "De-linking request" in delink and "https://pics.example/a/1" in delink
    # De-linking: the engine's own policy and form, GDPR Art. 17; never the TAKE IT DOWN Act or 15 U.S.C. 6851.
    assert "Article 17 GDPR" in delink and "Google Spain" in delink and "Grounds" in delink
    assert "https://support.google.com/websearch/answer/9116649" in delink  # the form for fake imagery
    assert "223a" not in delink and "6851" not in delink
    assert "/s/ " in delink and "good-faith belief" in delink
    block = json.loads(request_render(requests["blocking"], "json")[0])
    assert block["hash_bank"]["signal_types"] == ["md5", "pdq"]
    assert block["images"][0]["pdq"] in block["text"]


def test_a_missing_element_is_named_in_the_request() -> None:
    host_make("pics.example")
    case = confirm(case_make(signature="", good_faith=False))
    remedies_generate_for_case(case=case, actor=Actor.system())
    removal = RemedyRequest.objects.get(case=case, kind=RequestKind.REMOVAL)
    data = json.loads(request_render(removal, "json")[0])
    assert data["missing_elements"] == ["signature", "good_faith_statement"]
    assert "is MISSING" in data["text"] and "Not yet complete" in data["text"]


def test_pdf_page_renders_to_an_image(tmp_path: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed: PDF text is still checked with pypdf")
    removal = _requests(jurisdiction="DE")["removal"]
    pdf_path = tmp_path / "removal.pdf"
    pdf_path.write_bytes(request_render(removal, "pdf")[0])
    subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages, "pdftoppm produced no page"
    from PIL import Image

    with Image.open(pages[0]) as page:
        assert page.size[0] > 400 and page.size[1] > 500
        # A blank page would be a single colour; a rendered request has ink on it.
        grey = page.convert("L")
        assert grey.getextrema()[0] < 100
