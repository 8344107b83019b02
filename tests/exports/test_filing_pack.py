"""The pseudonymous-filing pack: a motion and a proposed order, DOCX, filled from the case, fields for the court."""

from __future__ import annotations

import io
import json
import zipfile
from xml.etree import ElementTree

import pytest

from takedown.core.audit import Actor
from takedown.exports import bundle
from takedown.exports.filing import MOTION, ORDER, docx_text
from takedown.exports.services import case_export_build
from tests.exports.conftest import case_make, verify_pinned, zip_members

pytestmark = pytest.mark.django_db


def test_the_pack_is_in_the_signed_file_filled_from_the_case_with_fields_for_the_court() -> None:
    case = case_make("FILING-0001", urls=3, images=1)
    data = case_export_build(case=case, actor=Actor.system()).data
    members = zip_members(data)
    assert verify_pinned(data).ok
    listed = bundle.manifest_parse(members[bundle.MANIFEST])
    assert MOTION in listed and ORDER in listed
    dossier = json.loads(members[bundle.CASE_JSON])
    for name in (MOTION, ORDER):
        with zipfile.ZipFile(io.BytesIO(members[name])) as docx:  # a DOCX package Word and LibreOffice open
            assert {"[Content_Types].xml", "_rels/.rels", "word/document.xml"} <= set(docx.namelist())
            for part in ("[Content_Types].xml", "_rels/.rels", "word/document.xml"):
                ElementTree.fromstring(docx.read(part))  # well-formed XML, or this raises
    motion = docx_text(members[MOTION])
    order = docx_text(members[ORDER])
    for text in (motion, order):
        assert case.court_reference in text and "Jane Doe 17" in text
        assert "[NAME OF THE COURT]" in text and "[CASE NUMBER" in text  # jurisdiction-neutral fields
        assert case.reference not in text
        for private in ("Real Name", "real@example.org"):
            assert private not in text
    assert "MOTION FOR LEAVE TO PROCEED UNDER A PSEUDONYM" in motion and "[CITE THE RULE" in motion
    assert "ORDER DIRECTING REMOVAL, BLOCKING AND DE-LINKING" in order
    for url in dossier["urls"]:
        assert url["url"] in order
    image = dossier["images"][0]["hashes"]
    assert image["sha256"] in order and image["pdq"] in order
    assert dossier["case"]["created_at"] in motion
