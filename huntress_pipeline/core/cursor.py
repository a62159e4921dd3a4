"""Cursor-bounded collection of Huntress incident reports.

The Huntress API cannot filter by "updated since": callers fetch pages sorted
by updated_at descending, and this walk stops once rows fall behind the
boundary (cursor minus a small overlap, or now minus the backfill window on a
first run). Reprocessing inside the overlap is harmless: the processor dedups.

With a window (``window_start``/``window_end``, a day backfill) the walk keeps
rows with ``window_start <= updated_at < window_end`` and walks on until rows
are older than ``window_start``.

The walk never truncates silently: when the page cap stops it before the
boundary, the result says so (``truncated``) and how far it got.

Where the kept rows go is the caller's choice (an ``IncidentSink``): a list in
memory by default, or a spool on disk (``huntress.spool``) so that a long walk
holds one page at a time. The walk itself keeps only id -> latest version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterator, Protocol, Sequence

from .models import IncidentReport
from .timeutil import parse_timestamp

DEFAULT_OVERLAP = timedelta(seconds=60)
#: Runaway guard: 1,000 pages of 500 is half a million incidents.
DEFAULT_MAX_PAGES = 1000


@dataclass(frozen=True)
class CursorWalkPage:
    incidents: Sequence[IncidentReport]
    next_page_token: str | None = None


FetchIncidentsPage = Callable[[str | None], CursorWalkPage]


class IncidentSink(Protocol):
    """Receives the kept rows of each page (newest first, as walked) and gives them back oldest first."""

    def add(self, rows: list[IncidentReport]) -> None: ...

    def seal(self, keep: dict[int, datetime]) -> "WalkedIncidents": ...


class WalkedIncidents(Protocol):
    """The walk's incidents, one per id at its latest version, iterated oldest first."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[IncidentReport]: ...


def in_chunks(incidents: "WalkedIncidents | Sequence[IncidentReport]", size: int) -> Iterator[list[IncidentReport]]:
    """Consecutive lists of at most ``size`` incidents, oldest first."""
    chunk: list[IncidentReport] = []
    for incident in incidents:
        chunk.append(incident)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class MemorySink:
    """Keeps the rows in a list (small walks, tests)."""

    def __init__(self) -> None:
        self._rows: list[IncidentReport] = []

    def add(self, rows: list[IncidentReport]) -> None:
        self._rows.extend(rows)

    def seal(self, keep: dict[int, datetime]) -> list[IncidentReport]:
        chosen: dict[int, IncidentReport] = {}
        for row in self._rows:
            if keep.get(row.id) == row.updated and row.id not in chosen:
                chosen[row.id] = row
        self._rows = []
        return sorted(chosen.values(), key=lambda i: (i.updated, i.id))


@dataclass(frozen=True)
class CursorWalkResult:
    #: Incidents inside the window, ascending by updated_at (then id), one per id.
    incidents: WalkedIncidents
    pages_fetched: int
    boundary: datetime
    #: True when the page cap stopped the walk before it reached the boundary.
    truncated: bool = False
    #: Oldest updated_at seen when truncated (everything older was not walked).
    reached: datetime | None = None
    #: Rows skipped because updated_at could not be parsed (ids).
    unparseable_ids: tuple[int, ...] = ()


def walk_boundary(cursor_iso: str | None, backfill_days: int, now: datetime, overlap: timedelta = DEFAULT_OVERLAP) -> datetime:
    """Cursor minus the overlap, or now minus the backfill window."""
    cursor = parse_timestamp(cursor_iso) if cursor_iso else None
    if cursor is not None:
        return cursor - overlap
    current = parse_timestamp(now)
    assert current is not None
    return current - timedelta(days=backfill_days)


def collect_incidents_since(
    fetch_page: FetchIncidentsPage,
    *,
    cursor_iso: str | None,
    backfill_days: int,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
    max_pages: int | None = DEFAULT_MAX_PAGES,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    sink: IncidentSink | None = None,
) -> CursorWalkResult:
    """Walk pages newest-first until the boundary; return the window ascending."""
    sink = sink if sink is not None else MemorySink()
    if window_start is not None:
        boundary = parse_timestamp(window_start)
    else:
        boundary = walk_boundary(cursor_iso, backfill_days, now, overlap)
    assert boundary is not None
    end = parse_timestamp(window_end) if window_end is not None else None

    latest: dict[int, datetime] = {}
    unparseable: list[int] = []
    token: str | None = None
    pages = 0
    oldest_seen: datetime | None = None
    while True:
        if max_pages is not None and pages >= max_pages:
            return _result(sink, latest, pages, boundary, unparseable, truncated=True, reached=oldest_seen)
        page = fetch_page(token)
        pages += 1
        hit_boundary = False
        kept: list[IncidentReport] = []
        for item in page.incidents:
            updated = item.updated
            if updated is None:
                unparseable.append(item.id)
                continue
            oldest_seen = updated if oldest_seen is None else min(oldest_seen, updated)
            if updated < boundary:
                hit_boundary = True
                break
            if end is not None and updated >= end:
                continue
            known = latest.get(item.id)
            if known is None or updated > known:
                latest[item.id] = updated
            kept.append(item)
        sink.add(kept)
        if hit_boundary or not page.next_page_token:
            return _result(sink, latest, pages, boundary, unparseable)
        token = page.next_page_token


def _result(sink, latest, pages, boundary, unparseable, truncated=False, reached=None) -> CursorWalkResult:
    return CursorWalkResult(
        incidents=sink.seal(latest),
        pages_fetched=pages,
        boundary=boundary,
        truncated=truncated,
        reached=reached,
        unparseable_ids=tuple(unparseable),
    )
