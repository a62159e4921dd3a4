"""The incident spool: a long walk holds one page at a time and gives the same batch back."""

from __future__ import annotations

import os
import pickle
import time
from datetime import datetime, timezone

import pytest

from huntress_pipeline.core.cursor import CursorWalkPage, collect_incidents_since, in_chunks
from huntress_pipeline.huntress.spool import SpoolSink, clean_old_spools, new_spool_folder
from huntress_pipeline.simulator import SimulatorApi, SimWorld
from huntress_pipeline_tests.factories import incident
from huntress_pipeline_tests.sim import in_process_client

NOW = datetime(2026, 6, 9, 12, 0, tzinfo=timezone.utc)


def walk(fetch, sink=None, **kwargs):
    return collect_incidents_since(fetch, cursor_iso=None, backfill_days=30, now=NOW, sink=sink, **kwargs)


def test_a_spooled_walk_gives_the_same_batch_as_an_in_memory_one(tmp_path):
    world = SimWorld(seed=4, organizations=5, agents=20, incidents=1700)
    client = in_process_client(world, SimulatorApi(world, rate_limit_per_minute=None))

    def fetch(token):
        page = client.list_incident_reports_page(page_token=token)
        return CursorWalkPage(page.incidents, page.next_page_token)

    now = world.clock.now()
    memory = collect_incidents_since(fetch, cursor_iso=None, backfill_days=30, now=now)
    spooled = collect_incidents_since(fetch, cursor_iso=None, backfill_days=30, now=now, sink=SpoolSink(tmp_path / "spool"))
    assert len(spooled.incidents) == len(memory.incidents) == 1700
    assert [i.id for i in spooled.incidents] == [i.id for i in memory.incidents]
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == [f"page-{n:06d}.pickle" for n in range(4)]
    # what is handed between Dagster steps is the folder and the version map, not the records
    assert len(pickle.dumps(spooled.incidents)) < len(pickle.dumps(list(memory.incidents))) / 10
    assert [len(c) for c in in_chunks(spooled.incidents, 500)] == [500, 500, 500, 200]


def test_a_spool_keeps_only_the_latest_version_of_an_incident_seen_twice(tmp_path):
    pages = {
        "first": CursorWalkPage([incident(5, "2026-06-09T11:30:00Z"), incident(4, "2026-06-09T11:00:00Z")], "p2"),
        "p2": CursorWalkPage([incident(5, "2026-06-09T10:00:00Z", status="closed"), incident(3, "2026-06-09T09:00:00Z")]),
    }
    result = walk(lambda t: pages[t or "first"], SpoolSink(tmp_path))
    assert [(i.id, i.updated_at) for i in result.incidents] == [(3, "2026-06-09T09:00:00Z"), (4, "2026-06-09T11:00:00Z"),
                                                               (5, "2026-06-09T11:30:00Z")]


def test_a_spool_that_lost_a_page_says_so(tmp_path):
    pages = {"first": CursorWalkPage([incident(2, "2026-06-09T11:00:00Z")], "p2"), "p2": CursorWalkPage([incident(1, "2026-06-09T10:00:00Z")])}
    result = walk(lambda t: pages[t or "first"], SpoolSink(tmp_path / "s"))
    (tmp_path / "s" / "page-000001.pickle").unlink()
    with pytest.raises(FileNotFoundError, match="lost page 1"):
        list(result.incidents)
    result.incidents.discard()
    assert not (tmp_path / "s").exists()


def test_old_spools_are_cleaned_and_new_ones_kept(tmp_path):
    old = new_spool_folder(tmp_path, "tenant/2026-01-01")
    old.mkdir()
    fresh = new_spool_folder(tmp_path, "tenant-2026-12-01")
    fresh.mkdir()
    past = time.time() - 8 * 86400
    os.utime(old, (past, past))
    assert "/" not in old.name
    assert clean_old_spools(tmp_path) == 1
    assert not old.exists() and fresh.exists()
