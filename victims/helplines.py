"""Support lines by country for the help page, read from victims/data/helplines.json (a data file, checked by
hand: each entry names where it was checked; tests/victims/test_support_pages.py checks its shape)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

HELPLINES_FILE = Path(__file__).resolve().parent / "data" / "helplines.json"


@dataclass(frozen=True)
class Helpline:
    name: str
    phone: str
    hours: str
    url: str
    purpose: str


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    lines: tuple[Helpline, ...]


def _line(raw: dict[str, str]) -> Helpline:
    return Helpline(name=raw["name"], phone=raw.get("phone", ""), hours=raw.get("hours", ""), url=raw["url"],
                    purpose=raw.get("for", ""))


@lru_cache(maxsize=1)
def helplines() -> tuple[tuple[Country, ...], tuple[Helpline, ...], str]:
    """(countries in file order, lines for everywhere, the date they were checked)."""
    data = json.loads(HELPLINES_FILE.read_text(encoding="utf-8"))
    countries = tuple(Country(code=c["code"], name=c["name"], lines=tuple(_line(x) for x in c["lines"]))
                      for c in data["countries"])
    return countries, tuple(_line(x) for x in data["everywhere"]), str(data["checked"])
