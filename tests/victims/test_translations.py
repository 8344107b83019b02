"""Every string a victim reads is translated in every language, and forms speak one language at a time.

The template strings are collected the way `makemessages` does (Django's templatize over every victim-facing
template); each must have a non-empty, non-fuzzy translation in every catalogue under victims/locale/, and the
committed .mo must say the same as the .po (recompile with `msgfmt --check -o django.mo django.po` after edits).
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation.template import templatize

REPO = Path(__file__).resolve().parents[2]
LOCALE = REPO / "victims" / "locale"
LANGUAGES = [code for code, _ in settings.LANGUAGES if code != "en"]
# Every template a victim sees: the intake pages, the page frame, and the advocate panel on the status page.
TEMPLATES = [*sorted((REPO / "templates" / "victims").glob("*.*")), REPO / "templates" / "base.html",
             REPO / "templates" / "exports" / "status_advocates.html"]
_LITERAL = r"""u?(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_CALL = re.compile(rf"\b(n?p?gettext)\(\s*({_LITERAL})(?:\s*,\s*({_LITERAL}))?(?:\s*,\s*({_LITERAL}))?")


def template_msgids() -> set[str]:
    ids: set[str] = set()
    for path in TEMPLATES:
        for name, first, second, third in _CALL.findall(templatize(path.read_text(), origin=str(path))):
            # pgettext(context, id) and npgettext(context, id, plural): the id is the second literal.
            msgid = ast.literal_eval(second if name.startswith(("pgettext", "npgettext")) else first)
            ids.add(msgid)
    return ids


def po_entries(path: Path) -> dict[str, dict[str, str]]:
    """msgid -> {"msgstr" or "msgstr[N]": text, "flags": ...} for a .po file (active entries only)."""
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    key = ""
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("#~"):
            continue
        if not line.strip():
            if "msgid" in current:
                entries[current["msgid"]] = current
            current, key = {}, ""
        elif line.startswith("#,"):
            current["flags"] = line[2:].strip()
        elif line.startswith("#"):
            continue
        elif match := re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) (".*")$', line):
            key = match.group(1)
            current[key] = ast.literal_eval(match.group(2))
        elif line.startswith('"') and key:
            current[key] += ast.literal_eval(line)
    return entries


def test_templates_have_strings_to_check() -> None:
    ids = template_msgids()
    assert len(ids) > 150
    assert "Quick exit" in ids and "If the person was under 18" in ids


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_template_string_is_translated(language: str) -> None:
    entries = po_entries(LOCALE / language / "LC_MESSAGES" / "django.po")
    problems = []
    for msgid in sorted(template_msgids()):
        entry = entries.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        if "fuzzy" in entry.get("flags", ""):
            problems.append(f"fuzzy: {msgid!r}")
        forms = [value for key, value in entry.items() if key.startswith("msgstr")]
        if not forms or not all(forms):
            problems.append(f"empty: {msgid!r}")
    assert not problems, f"{language}: " + "\n".join(problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogue_is_complete_and_compiled(language: str) -> None:
    folder = LOCALE / language / "LC_MESSAGES"
    entries = po_entries(folder / "django.po")
    with (folder / "django.mo").open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, entry in entries.items():
        if not msgid:
            continue
        assert "fuzzy" not in entry.get("flags", ""), msgid
        if "msgid_plural" in entry:
            assert all(v for k, v in entry.items() if k.startswith("msgstr[")), msgid
            assert compiled.ngettext(msgid, entry["msgid_plural"], 1) == entry["msgstr[1]" if language == "ar"
                                                                                  else "msgstr[0]"], msgid
        else:
            assert entry["msgstr"], msgid
            assert compiled.gettext(msgid) == entry["msgstr"], f"stale .mo: {msgid}"


@pytest.mark.django_db
@pytest.mark.parametrize("language", LANGUAGES)
def test_form_errors_speak_one_language(client: Client, language: str) -> None:
    """No "Device hashes: Este campo es requerido.": the field's label and its error are both translated."""
    client.post("/i18n/setlang/", {"language": language, "next": "/"})
    response = client.post(reverse("victims-report-device"), {"urls": "javascript:alert(1)"})
    body = response.content.decode()
    assert response.status_code == 400
    for english in ("Device hashes", "This field is required", "The images", "Please check the form",
                    "Choose your images and let this page make their fingerprints first.",
                    "Enter at least one web address", "Only web addresses starting with"):
        assert english not in body, (language, english)
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as handle:
        catalogue = gettext.GNUTranslations(handle)
    assert escape(catalogue.gettext("The images")) in body
    assert escape(catalogue.gettext("Choose your images and let this page make their fingerprints first.")) in body
