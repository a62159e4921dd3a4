"""Spec: cursorWalk.test.ts, plus day windows and the truncation report."""

from datetime import datetime, timedelta, timezone

from huntress_pipeline.core.cursor import CursorWalkPage, collect_incidents_since
from huntress_pipeline_tests.factories import incident

NOW = datetime(2026, 6, 9, 12, 0, tzinfo=timezone.utc)


class PagesFetcher:
    """Serves fixed pages keyed by token (None = first page) and counts calls."""

    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def __call__(self, token):
        self.calls.append(token)
        return self.pages[token or "first"]


def ids(result):
    return [i.id for i in result.incidents]


def test_collects_incidents_newer_than_the_cursor_minus_overlap_and_returns_ascending():
    fetch = PagesFetcher({"first": CursorWalkPage([
        incident(3, "2026-06-09T11:00:00Z"),
        incident(2, "2026-06-09T10:00:00Z"),
        incident(1, "2026-06-08T10:00:00Z"),  # older than cursor -> boundary hit
    ])})
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW)
    assert ids(result) == [2, 3]
    assert len(fetch.calls) == 1
    assert result.truncated is False


def test_includes_incidents_inside_the_overlap_window_for_dedup_safe_reprocessing():
    fetch = PagesFetcher({"first": CursorWalkPage([
        incident(2, "2026-06-09T08:59:30Z"), incident(1, "2026-06-09T08:00:00Z"),
    ])})
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW)
    assert ids(result) == [2]  # 08:59:30 is within the 60 s overlap of the 09:00 cursor


def test_walks_multiple_pages_until_the_boundary():
    fetch = PagesFetcher({
        "first": CursorWalkPage([incident(4, "2026-06-09T11:00:00Z"), incident(3, "2026-06-09T10:30:00Z")], "p2"),
        "p2": CursorWalkPage([incident(2, "2026-06-09T10:00:00Z"), incident(1, "2026-06-01T00:00:00Z")]),
    })
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW)
    assert ids(result) == [2, 3, 4]
    assert fetch.calls == [None, "p2"]
    assert result.pages_fetched == 2


def test_stops_paging_when_there_is_no_next_token_even_if_all_rows_qualified():
    fetch = PagesFetcher({"first": CursorWalkPage([incident(1, "2026-06-09T11:00:00Z")])})
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW)
    assert ids(result) == [1]


def test_uses_now_minus_backfill_days_as_the_boundary_when_there_is_no_cursor():
    fetch = PagesFetcher({"first": CursorWalkPage([
        incident(2, "2026-06-08T12:00:00Z"), incident(1, "2026-05-01T00:00:00Z"),
    ])})
    result = collect_incidents_since(fetch, cursor_iso=None, backfill_days=7, now=NOW)
    assert ids(result) == [2]
    assert result.boundary == NOW - timedelta(days=7)


def test_respects_max_pages_as_a_runaway_guard_and_says_it_was_cut():
    calls = []

    def fetch(token):
        calls.append(token)
        n = int(token or 1)
        return CursorWalkPage([incident(n, "2026-06-09T11:00:00Z")], str(n + 1))

    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW, max_pages=3)
    assert len(calls) == 3
    assert len(result.incidents) == 3
    assert result.truncated is True
    assert result.reached == datetime(2026, 6, 9, 11, 0, tzinfo=timezone.utc)


def test_a_walk_that_reaches_the_boundary_on_the_last_allowed_page_is_not_truncated():
    fetch = PagesFetcher({
        "first": CursorWalkPage([incident(2, "2026-06-09T11:00:00Z")], "p2"),
        "p2": CursorWalkPage([incident(1, "2026-06-01T00:00:00Z")], "p3"),
    })
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW, max_pages=2)
    assert result.truncated is False
    assert ids(result) == [2]


def test_an_incident_seen_twice_across_pages_is_kept_once_at_its_latest_version():
    # an incident updated while the walk is paging shows up on two pages
    fetch = PagesFetcher({
        "first": CursorWalkPage([incident(5, "2026-06-09T11:30:00Z"), incident(4, "2026-06-09T11:00:00Z")], "p2"),
        "p2": CursorWalkPage([incident(5, "2026-06-09T10:00:00Z", status="closed"), incident(1, "2026-06-01T00:00:00Z")]),
    })
    result = collect_incidents_since(fetch, cursor_iso="2026-06-09T09:00:00Z", backfill_days=7, now=NOW)
    assert ids(result) == [4, 5]
    assert result.incidents[1].updated_at == "2026-06-09T11:30:00Z"


def test_equal_timestamps_order_by_id():
    fetch = PagesFetcher({"first": CursorWalkPage([incident(9, "2026-06-09T11:00:00Z"), incident(3, "2026-06-09T11:00:00Z")])})
    assert ids(collect_incidents_since(fetch, cursor_iso=None, backfill_days=7, now=NOW)) == [3, 9]


def test_rows_with_unparseable_updated_at_are_reported_not_collected():
    fetch = PagesFetcher({"first": CursorWalkPage([incident(2, "2026-06-09T11:00:00Z"), incident(1, "garbage")])})
    result = collect_incidents_since(fetch, cursor_iso=None, backfill_days=7, now=NOW)
    assert ids(result) == [2]
    assert result.unparseable_ids == (1,)


def test_a_day_window_keeps_rows_before_its_end_and_walks_on_to_its_start():
    start = datetime(2026, 6, 8, tzinfo=timezone.utc)
    fetch = PagesFetcher({
        "first": CursorWalkPage([incident(5, "2026-06-09T11:00:00Z"), incident(4, "2026-06-09T00:00:00Z")], "p2"),
        "p2": CursorWalkPage([incident(3, "2026-06-08T23:59:59Z"), incident(2, "2026-06-08T00:00:00Z")], "p3"),
        "p3": CursorWalkPage([incident(1, "2026-06-07T23:59:59Z")], "p4"),
    })
    result = collect_incidents_since(
        fetch, cursor_iso="2026-06-09T10:00:00Z", backfill_days=7, now=NOW,
        window_start=start, window_end=start + timedelta(days=1),
    )
    assert ids(result) == [2, 3]  # 2026-06-08 only; the cursor does not bound a window
    assert fetch.calls == [None, "p2", "p3"]
