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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

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


@dataclass(frozen=True)
class CursorWalkResult:
    #: Incidents inside the window, ascending by updated_at (then id), one per id.
    incidents: list[IncidentReport]
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
) -> CursorWalkResult:
    """Walk pages newest-first until the boundary; return the window ascending."""
    if window_start is not None:
        boundary = parse_timestamp(window_start)
    else:
        boundary = walk_boundary(cursor_iso, backfill_days, now, overlap)
    assert boundary is not None
    end = parse_timestamp(window_end) if window_end is not None else None

    latest: dict[int, tuple[datetime, IncidentReport]] = {}
    unparseable: list[int] = []
    token: str | None = None
    pages = 0
    oldest_seen: datetime | None = None
    while True:
        if max_pages is not None and pages >= max_pages:
            return _result(latest, pages, boundary, unparseable, truncated=True, reached=oldest_seen)
        page = fetch_page(token)
        pages += 1
        hit_boundary = False
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
            if known is None or updated > known[0]:
                latest[item.id] = (updated, item)
        if hit_boundary or not page.next_page_token:
            return _result(latest, pages, boundary, unparseable)
        token = page.next_page_token


def _result(latest, pages, boundary, unparseable, truncated=False, reached=None) -> CursorWalkResult:
    ordered = sorted(latest.values(), key=lambda pair: (pair[0], pair[1].id))
    return CursorWalkResult(
        incidents=[incident for _, incident in ordered],
        pages_fetched=pages,
        boundary=boundary,
        truncated=truncated,
        reached=reached,
        unparseable_ids=tuple(unparseable),
    )
