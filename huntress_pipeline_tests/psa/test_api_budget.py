"""Exact API request counts per poll (the timings are benchmarks/, the counts are tests)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from huntress_pipeline.psa import actions
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore
from huntress_pipeline.simulator import SimClock, SimulatorApi, SimWorld
from huntress_pipeline_tests.fixtures import seed_reference
from huntress_pipeline_tests.sim import in_process_builder


@pytest.fixture
def budget(store, tmp_path):
    world = SimWorld(seed=8, organizations=30, agents=700, incidents=1200, history_days=6,
                     clock=SimClock(datetime.now(timezone.utc).replace(microsecond=0)))
    api = SimulatorApi(world)  # the real 60/min window, on the virtual clock
    pipeline = actions.Pipeline(store, SecretStore(tmp_path / "secrets"), in_process_builder(world, api, min_request_interval=1.1))
    t = seed_reference(store)
    connected = actions.connect(pipeline, t.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret))
    actions.configure(pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client, fallback_board=t.triage_board)
    return world, api, pipeline, t, connected


def test_a_first_backfill_costs_the_pages_plus_one_agent_listing(budget):
    world, api, pipeline, t, connected = budget
    assert connected.api_requests == 2  # account + one page of organizations
    first = actions.poll(pipeline, t.tenant, now=world.clock.now())
    pages = math.ceil(1200 / 500)
    agent_pages = math.ceil(700 / 500)
    assert first.api_requests == pages + agent_pages
    assert api.count("/v1/agents/") == 0  # no single agent GET: the snapshot was listed once
    assert api.status_counts[429] == 0
    spec_design = pages + sum(1 for o in first.outcomes if o.kind == "create_ticket" and world.incidents[o.incident_id]["agent_id"])
    assert spec_design > 100 * first.api_requests


def test_an_idle_poll_costs_one_request_and_changes_cost_a_page_per_500(budget):
    world, api, pipeline, t, _ = budget
    actions.poll(pipeline, t.tenant, now=world.clock.now())
    assert actions.poll(pipeline, t.tenant, now=world.clock.now()).api_requests == 1
    world.clock.advance(minutes=5)
    for incident_id in [i for i, inc in world.incidents.items() if inc["status"] == "sent"][:600]:
        world.update_incident(incident_id, summary="changed")
    changed = actions.poll(pipeline, t.tenant, now=world.clock.now())
    assert changed.counts["append_note"] == 600 and changed.api_requests == 2


def test_a_new_agent_costs_one_get_and_a_new_organization_one_more(budget):
    world, api, pipeline, t, _ = budget
    actions.poll(pipeline, t.tenant, now=world.clock.now())
    world.clock.advance(minutes=5)
    agent = world.new_agent(101)
    world.new_incident(101, agent)
    result = actions.poll(pipeline, t.tenant, now=world.clock.now())
    assert (result.counts["create_ticket"], result.api_requests) == (1, 2)  # the page + GET /v1/agents/{id}
    world.clock.advance(minutes=5)
    org = world.new_organization("Brand New LLC")
    world.new_incident(org, platform="microsoft_365")
    result = actions.poll(pipeline, t.tenant, now=world.clock.now())
    assert (result.counts["create_ticket"], result.api_requests) == (1, 2)  # the page + GET /v1/organizations/{id}


def test_many_new_organizations_are_listed_not_fetched_one_by_one(budget):
    world, api, pipeline, t, _ = budget
    actions.poll(pipeline, t.tenant, now=world.clock.now())
    world.clock.advance(minutes=5)
    for n in range(5):
        world.new_incident(world.new_organization(f"Acquired {n}"), platform="microsoft_365")
    before = api.count("/v1/organizations/")
    result = actions.poll(pipeline, t.tenant, now=world.clock.now())
    assert result.counts["create_ticket"] == 5
    assert result.api_requests == 2  # the page + one listing of organizations
    assert api.count("/v1/organizations/") == before
    names = {m.external_organization_name for m in actions.list_orgs(pipeline, t.tenant)}
    assert {f"Acquired {n}" for n in range(5)} <= names
