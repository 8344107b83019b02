"""Reading and writing the bank's exchange formats, row by row (pure: no Django).

- CSV: a header line ``signal_type,value,status,quality`` (status and quality optional), one hash per line. A
  ``vpdq`` row also fills a fifth column ``vpdq``: the video's frames as HMA keeps them, a JSON list of
  ``"pdq,quality,second"`` strings; its value may be left empty (it is the SHA-256 of the frames).
- StopNCII records: the ``hashRecords`` of StopNCII's FetchHashes, as a JSON document written one record per
  line (what ``bank_export --format stopncii`` writes, streamed both ways) or JSON Lines; any other layout of
  a JSON document is read whole.

A bad row becomes an :class:`ImportProblem` with its line number and the reason; the rows around it are kept.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from detection.signals import STATUSES, hash_value_clean
from detection.videomatch import VpdqFeature, features_clean, features_text, vpdq_key

# StopNCII's VideoMD5 is the MD5 of a video file: our video_md5 (an image's MD5, "md5", has no StopNCII type).
STOPNCII_TO_SIGNAL = {"ImagePDQ": "pdq", "VideoMD5": "video_md5"}
SIGNAL_TO_STOPNCII = {signal: name for name, signal in STOPNCII_TO_SIGNAL.items()}
CSV_FIELDS = ("signal_type", "value", "status", "quality")
VPDQ_CSV_FIELDS = (*CSV_FIELDS, "vpdq")


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    signal_type: str
    value: str
    status: str | None
    quality: int | None
    features: tuple[VpdqFeature, ...] = ()  # vpdq rows: the video's frames


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    reason: str


def _row(line: int, signal_type: Any, value: Any, status: Any, quality: Any,
         frames: Any = None) -> ImportRow | ImportProblem:
    if not isinstance(signal_type, str):
        return ImportProblem(line, f"unknown signal type {str(signal_type)[:40]!r}")
    features: tuple[VpdqFeature, ...] = ()
    if signal_type == "vpdq" and not frames and status in ("Withdrawn", "Deleted"):
        pass  # a withdrawn or deleted video: its key alone, so partners can drop their copy
    elif signal_type == "vpdq":
        try:
            features = tuple(features_clean(json.loads(frames or "[]")))
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            return ImportProblem(line, f"the vpdq column must hold the video's frames ({str(exc)[:80]})")
        key = vpdq_key(features)
        if value not in (None, "") and str(value).strip().lower() != key:
            return ImportProblem(line, "a vpdq value is the SHA-256 of its frames, and this one is not")
        value = key
    if not isinstance(value, str):
        return ImportProblem(line, "the hash is missing")
    try:
        value = hash_value_clean(signal_type, value)
    except ValueError as exc:
        return ImportProblem(line, str(exc))
    if status in (None, ""):
        status = None
    elif status not in STATUSES:
        return ImportProblem(line, f"unknown status {str(status)[:40]!r}")
    if quality in (None, ""):
        quality = None
    else:
        try:
            quality = int(quality)
        except (TypeError, ValueError):
            return ImportProblem(line, "quality must be a whole number from 0 to 100")
        if not 0 <= quality <= 100:
            return ImportProblem(line, "quality must be a whole number from 0 to 100")
    return ImportRow(line, signal_type, value, status, quality, features)


def csv_read(handle: IO[str]) -> Iterator[ImportRow | ImportProblem]:
    reader = csv.DictReader(handle)
    if not reader.fieldnames or not {"signal_type", "value"} <= set(reader.fieldnames):
        yield ImportProblem(1, "the header must name at least the columns signal_type and value")
        return
    try:
        for record in reader:
            yield _row(reader.line_num, record.get("signal_type"), record.get("value"), record.get("status"),
                       record.get("quality"), record.get("vpdq"))
    except csv.Error as exc:
        yield ImportProblem(reader.line_num, f"unreadable CSV ({exc})")


def stopncii_record_row(line: int, record: Any) -> ImportRow | ImportProblem:
    if not isinstance(record, dict):
        return ImportProblem(line, "a record must be a JSON object")
    kind = str(record.get("signalType", "")).removeprefix("StopNCIISignalType.")
    signal_type = STOPNCII_TO_SIGNAL.get(kind)
    if signal_type is None:
        return ImportProblem(line, f"unknown signalType {kind[:40]!r}")
    return _row(line, signal_type, record.get("hashValue"), record.get("hashStatus"), None)


def stopncii_read(handle: IO[str]) -> Iterator[ImportRow | ImportProblem]:
    first = handle.readline()
    rest_is_lines = first.strip().endswith("[") or first.strip().startswith('{"lastModtimestamp"') or (
        first.strip().startswith("{") and first.strip().rstrip(",").endswith("}") and "hashValue" in first)
    if not rest_is_lines:
        text = first + handle.read()
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            yield ImportProblem(1, f"not JSON ({exc.msg})")
            return
        records = document.get("hashRecords") if isinstance(document, dict) else document
        if not isinstance(records, list):
            yield ImportProblem(1, "expected a hashRecords list")
            return
        for number, record in enumerate(records, start=1):
            yield stopncii_record_row(number, record)
        return
    lines: Iterable[tuple[int, str]] = enumerate([first], start=1)
    for number, text in _chain(lines, enumerate(handle, start=2)):
        stripped = text.strip().strip(",").strip()
        if not stripped.startswith("{") or not stripped.endswith("}"):
            continue  # the document's opening and closing lines
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield ImportProblem(number, f"not JSON ({exc.msg})")
            continue
        yield stopncii_record_row(number, record)


def _chain(*parts: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    for part in parts:
        yield from part


def unix_seconds(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def stopncii_record(*, signal_type: str, value: str, status: str, updated_at: datetime) -> dict[str, Any]:
    return {"lastModtimestamp": unix_seconds(updated_at), "signalType": SIGNAL_TO_STOPNCII[signal_type],
            "hashValue": value, "hashStatus": status, "caseNumbers": {}, "CSPFeedbacks": []}


def vpdq_csv_cell(features: Iterable[VpdqFeature]) -> str:
    """The ``vpdq`` column of a CSV row: HMA's JSON list of ``"pdq,quality,second"`` strings."""
    return json.dumps(features_text(list(features)).splitlines())
