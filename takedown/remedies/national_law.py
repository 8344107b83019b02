"""The national offences a DSA Art. 16 notice cites, from the small data file takedown/remedies/data/eu_offences.json.

Content is illegal under the DSA when it does not comply with Union law or the law of any Member State
(Art. 3(h)). A notice therefore cites, first, the offences of the Member State where the host is established when
we know it and have it on file; where we do not, it says "national offence not on file" and cites the offences on
file of other Member States, each of which makes the content illegal content in the DSA's sense. Directive (EU)
2024/1385 is not cited as a basis: its deadline for transposition has not passed, so it is not national law yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from takedown.remedies.models import EU_COUNTRIES

DATA_FILE = Path(__file__).resolve().parent / "data" / "eu_offences.json"
NOT_ON_FILE = "national offence not on file"


@dataclass(frozen=True)
class Offence:
    citation: str
    title: str
    covers: tuple[str, ...]

    def applies(self, *, forgery: bool | None) -> bool:
        """None: whether the image is a forgery is not stated, so every offence on file is cited."""
        if forgery is None:
            return True
        return ("forgery" if forgery else "real") in self.covers


@dataclass(frozen=True)
class StateLaw:
    code: str
    state: str
    offences: tuple[Offence, ...]
    note: str


@lru_cache(maxsize=1)
def national_offences() -> dict[str, StateLaw]:
    raw: dict[str, Any] = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    out = {}
    for code, entry in raw.items():
        if code.startswith("_"):
            continue
        out[code] = StateLaw(
            code=code, state=entry["state"], note=entry.get("note", ""),
            offences=tuple(Offence(citation=o["citation"], title=o["title"], covers=tuple(o["covers"]))
                           for o in entry["offences"]),
        )
    return out


def _cite(law: StateLaw, forgery: bool | None) -> list[dict[str, str]]:
    return [{"member_state": law.code, "citation": o.citation, "offence": o.title}
            for o in law.offences if o.applies(forgery=forgery)]


def national_basis(jurisdiction: str, *, forgery: bool | None, guessed: bool = False) -> dict[str, Any]:
    """What a DSA notice to a host of this jurisdiction cites as the national law the content breaks.

    Returns `member_state` (ISO code or None when unknown), `on_file` (the host's own state's offence is cited),
    `offences` (the host's state's, when on file), `other_member_states` (offences on file elsewhere: the content is
    illegal content under Art. 3(h) DSA when any Member State's law forbids it) and `statement`, one sentence
    saying which case applies, in plain words. `guessed`: the jurisdiction was inferred from a country-code
    domain, not recorded in the directory, and the statement says so.
    """
    where = "where the host is taken to be established (from its domain)" if guessed \
        else "where the host is established"
    laws = national_offences()
    code = jurisdiction.upper()
    if code == "EL":
        code = "GR"
    own = laws.get(code)
    own_cited = _cite(own, forgery) if own else []
    others = [item for other_code, law in sorted(laws.items()) if other_code != code for item in _cite(law, forgery)]
    kind = {True: "a digital forgery of this kind", False: "such an image", None: "such imagery"}[forgery]
    if own_cited:
        statement = f"Sharing {kind} without consent is a criminal offence in {own.state if own else code}, {where}."
    elif own is not None:
        statement = f"An offence in {own.state}, {where}, that covers {kind} is not on file ({NOT_ON_FILE})."
    elif code in EU_COUNTRIES:
        statement = f"The host's Member State is {code}, {where}; {NOT_ON_FILE} for it."
    elif code and code != "EU":
        statement = (f"The host is established outside the Union ({code}) and offers its services in the Union; "
                     "the offences on file of Member States where the content is accessible are cited.")
    else:
        statement = f"The Member State where the host is established is not known to us ({NOT_ON_FILE})."
    return {
        "member_state": code or None,
        "on_file": bool(own_cited),
        "offences": own_cited,
        "other_member_states": others,
        "note": own.note if own else "",
        "statement": statement,
    }
