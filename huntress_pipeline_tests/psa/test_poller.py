"""Spec: incidentPoller.test.ts, run for real: a seeded PSA store, the in-process simulator."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from huntress_pipeline.psa import actions
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore
from huntress_pipeline.simulator import SimulatorApi, SimWorld
from huntress_pipeline_tests.fixtures import Tenant, rows, seed_reference
from huntress_pipeline_tests.sim import in_process_builder


@pytest.fixture
def world():
    return SimWorld(seed=11, organizations=4, agents=12, incidents=0)


@pytest.fixture
def api(world):
    return SimulatorApi(world, rate_limit_per_minute=None)


@pytest.fixture
def pipeline(store, tmp_path, world, api):
    return actions.Pipeline(store, SecretStore(tmp_path / "secrets"), in_process_builder(world, api))


def connected(pipeline, world, *, routing=True, **configure) -> Tenant:
    t = seed_reference(pipeline.store)
    actions.connect(pipeline, t.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret))
    if routing:
        actions.configure(pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client,
                          fallback_board=t.triage_board, **configure)
    return t


def test_connect_prefills_priorities_stores_account_and_syncs_organizations(pipeline, world, tmp_path):
    t = connected(pipeline, world, routing=False)
    status = actions.status(pipeline, t.tenant)
    assert status["is_connected"] and status["account_name"] == "Demo MSP" and status["account_subdomain"] == "demo-msp"
    assert status["organization_count"] == 4
    assert status["unmapped_count"] == 3  # simulated org "Acme Corp" auto-matched the client "Acme Corp"
    acme = next(m for m in actions.list_orgs(pipeline, t.tenant) if m.external_organization_name == "Acme Corp")
    assert acme.client_id == t.client and acme.auto_matched
    assert status["routing_missing"] == ["board", "fallback client", "fallback board"]  # priorities were pre-filled
    settings = pipeline.store.get_integration(t.tenant).settings
    assert settings.severity_priority_map.as_dict() == {"critical": t.p_crit, "high": t.p_high, "low": t.p_low}
    secret_files = sorted(p.name for p in (tmp_path / "secrets" / t.tenant).iterdir())
    assert secret_files == ["huntress_api_key", "huntress_api_secret"]
    assert oct((tmp_path / "secrets" / t.tenant / "huntress_api_secret").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "secrets" / t.tenant).stat().st_mode & 0o777) == "0o700"
    stored = str(rows(pipeline.store, "rmm_integrations", t.tenant))
    assert world.credentials.api_secret not in stored and world.credentials.api_key not in stored


def test_connect_refuses_bad_credentials_and_stores_nothing(pipeline, world, tmp_path):
    t = seed_reference(pipeline.store)
    with pytest.raises(actions.ActionError, match="could not authenticate"):
        actions.connect(pipeline, t.tenant, HuntressCredentials("wrong", "creds"))
    assert pipeline.store.get_integration(t.tenant) is None
    assert pipeline.secrets.credentials(t.tenant) is None


def test_skips_without_polling_when_routing_config_is_incomplete(pipeline, world, api):
    t = connected(pipeline, world, routing=False)
    before = len(api.requests)
    result = actions.poll(pipeline, t.tenant)
    assert result.success and result.skipped == "routing_config_incomplete"
    assert "board" in result.error
    assert len(api.requests) == before


def test_marks_the_integration_errored_when_credentials_are_missing(pipeline, world):
    t = connected(pipeline, world)
    pipeline.secrets.delete_credentials(t.tenant)
    result = actions.poll(pipeline, t.tenant)
    assert result.success is False and result.skipped == "missing_credentials"
    integration = pipeline.store.get_integration(t.tenant)
    assert integration.sync_status == "error" and integration.sync_error == "Missing Huntress API credentials"


def test_processes_incidents_in_ascending_order_and_advances_the_cursor_past_all_of_them(pipeline, world):
    t = connected(pipeline, world)
    first = world.new_incident(at=world.clock.now() - timedelta(hours=2))
    second = world.new_incident(at=world.clock.now() - timedelta(hours=1))
    result = actions.poll(pipeline, t.tenant)
    assert result.success and result.processed == 2
    assert [o.incident_id for o in result.outcomes] == [first, second]
    integration = pipeline.store.get_integration(t.tenant)
    assert integration.sync_status == "completed" and integration.sync_error is None
    assert integration.settings.incident_cursor == world.incidents[second]["updated_at"]
    assert integration.last_incremental_sync_at is not None


def test_a_poll_with_nothing_new_costs_one_api_request(pipeline, world):
    t = connected(pipeline, world)
    world.new_incident()
    actions.poll(pipeline, t.tenant)
    again = actions.poll(pipeline, t.tenant)
    assert again.success and again.api_requests == 1
    assert again.counts == {"create_ticket": 0, "append_note": 0, "record_only": 0, "skip": 1}  # the overlap re-read


def test_stops_at_the_first_failure_so_the_failed_incident_is_retried_next_cycle(pipeline, world):
    t = connected(pipeline, world)
    good_org, bad_org = list(world.organizations)[:2]
    actions.map_org(pipeline, t.tenant, str(good_org), client_id=t.client)
    # a client deleted in Alga after it was mapped: creating its ticket violates the foreign key
    pipeline.store.update_mapping(t.tenant, pipeline.store.get_integration(t.tenant).integration_id, str(bad_org),
                                  client_id="00000000-0000-0000-0000-00000000dead")
    now = world.clock.now()
    ok = world.new_incident(good_org, at=now - timedelta(hours=3))
    bad = world.new_incident(bad_org, at=now - timedelta(hours=2))
    never = world.new_incident(good_org, at=now - timedelta(hours=1))
    result = actions.poll(pipeline, t.tenant)
    assert result.success is False and result.processed == 1 and result.failed == 1
    assert [o.incident_id for o in result.outcomes] == [ok]
    assert f"incident {bad}" in result.error
    integration = pipeline.store.get_integration(t.tenant)
    assert integration.sync_status == "error" and f"incident {bad}" in integration.sync_error
    assert integration.settings.incident_cursor == world.incidents[ok]["updated_at"]
    assert {a["external_alert_id"] for a in rows(pipeline.store, "rmm_alerts", t.tenant)} == {str(ok)}
    # the action history committed with the writes: the failed incident left no trace there either
    assert [(a["incident_id"], a["action"]) for a in rows(pipeline.store, "huntress_incident_actions", t.tenant)] == [(ok, "create_ticket")]

    # someone fixes the mapping; the next cycle resumes at the failed incident
    actions.map_org(pipeline, t.tenant, str(bad_org), client_id=t.client)
    retry = actions.poll(pipeline, t.tenant)
    assert retry.success
    assert [o.incident_id for o in retry.outcomes if o.kind == "create_ticket"] == [bad, never]
    assert len(rows(pipeline.store, "tickets", t.tenant)) == 3


def test_settings_changed_during_a_poll_are_not_clobbered_by_the_cursor_write(pipeline, world, api):
    t = connected(pipeline, world)
    world.new_incident()
    original = api._route

    def route_and_edit(path, params):
        if path == "/v1/incident_reports":
            actions.configure(pipeline, t.tenant, poll_interval=17)
        return original(path, params)

    api._route = route_and_edit
    assert actions.poll(pipeline, t.tenant).success
    settings = pipeline.store.get_integration(t.tenant).settings
    assert settings.poll_interval_minutes == 17
    assert settings.incident_cursor is not None


def test_configure_never_touches_the_cursor_and_refuses_unknown_ids(pipeline, world):
    t = connected(pipeline, world)
    world.new_incident()
    actions.poll(pipeline, t.tenant)
    cursor = pipeline.store.get_integration(t.tenant).settings.incident_cursor
    actions.configure(pipeline, t.tenant, auto_close=True, closed_status=t.status_closed, backfill_days=3)
    settings = pipeline.store.get_integration(t.tenant).settings
    assert settings.incident_cursor == cursor and settings.auto_close_tickets and settings.backfill_days == 3
    with pytest.raises(actions.ConfigurationError, match="unknown board 00000000-0000-0000-0000-000000000001"):
        actions.configure(pipeline, t.tenant, board="00000000-0000-0000-0000-000000000001")
    with pytest.raises(actions.ConfigurationError, match="must be a closed ticket status"):
        actions.configure(pipeline, t.tenant, closed_status=t.status_open)
    with pytest.raises(actions.ConfigurationError, match="unknown high priority not-a-uuid"):
        actions.configure(pipeline, t.tenant, priorities={"high": "not-a-uuid"})


def test_a_backfill_window_walks_that_day_leaves_the_cursor_and_is_idempotent(pipeline, world):
    t = connected(pipeline, world, backfill_days=1)
    now = world.clock.now()
    day_start = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0)
    old = [world.new_incident(at=day_start + timedelta(hours=h)) for h in (1, 5, 23)]
    world.new_incident(at=day_start - timedelta(minutes=1))  # the day before
    recent = world.new_incident(at=now - timedelta(minutes=5))
    first = actions.poll(pipeline, t.tenant)
    assert [o.incident_id for o in first.outcomes] == [recent]  # backfill_days=1 leaves the old day out
    cursor = pipeline.store.get_integration(t.tenant).settings.incident_cursor

    window = {"window_start": day_start, "window_end": day_start + timedelta(days=1)}
    backfill = actions.poll(pipeline, t.tenant, **window)
    assert backfill.success and [o.incident_id for o in backfill.outcomes] == old
    assert backfill.counts["create_ticket"] == 3
    assert pipeline.store.get_integration(t.tenant).settings.incident_cursor == cursor
    again = actions.poll(pipeline, t.tenant, **window)
    assert again.counts == {"create_ticket": 0, "append_note": 0, "record_only": 0, "skip": 3}
    assert len(rows(pipeline.store, "tickets", t.tenant)) == 4


def test_an_incident_lifecycle_create_update_close(pipeline, world):
    t = connected(pipeline, world, auto_close=True, closed_status=None)
    actions.configure(pipeline, t.tenant, closed_status=t.status_closed)
    incident_id = world.new_incident(severity="critical")
    assert actions.poll(pipeline, t.tenant).counts["create_ticket"] == 1
    world.clock.advance(minutes=5)
    world.update_incident(incident_id, summary="more")
    assert actions.poll(pipeline, t.tenant).counts["append_note"] == 1
    world.clock.advance(minutes=5)
    world.close_incident(incident_id)
    closing = actions.poll(pipeline, t.tenant)
    assert closing.counts["append_note"] == 1
    (ticket,) = rows(pipeline.store, "tickets", t.tenant)
    assert ticket["is_closed"] is True and ticket["status_id"] == t.status_closed
    assert ticket["priority_id"] == t.p_crit
    assert len(rows(pipeline.store, "comments", t.tenant)) == 3


def test_a_second_poll_of_the_same_tenant_steps_aside_while_one_runs(pipeline, world):
    t = connected(pipeline, world)
    integration = pipeline.store.get_integration(t.tenant)
    assert pipeline.store.try_acquire_poll_lock(t.tenant, integration.integration_id, "other-worker", timedelta(minutes=10))
    world.new_incident()
    result = actions.poll(pipeline, t.tenant)
    assert result.success and result.skipped == "poll_in_progress" and result.processed == 0
    pipeline.store.release_poll_lock(t.tenant, integration.integration_id, "other-worker")
    assert actions.poll(pipeline, t.tenant).counts["create_ticket"] == 1


def test_an_expired_lease_is_taken_over(pipeline, world):
    t = connected(pipeline, world)
    integration = pipeline.store.get_integration(t.tenant)
    assert pipeline.store.try_acquire_poll_lock(t.tenant, integration.integration_id, "crashed", timedelta(seconds=-1))
    world.new_incident()
    assert actions.poll(pipeline, t.tenant).counts["create_ticket"] == 1


def test_two_concurrent_polls_of_one_tenant_create_each_ticket_once(store, tmp_path):
    """Two workers poll the same tenant at the same moment, each with its own engine."""
    from huntress_pipeline.psa.store import PsaStore

    world = SimWorld(seed=5, organizations=3, agents=6, incidents=0)
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("slow", rate=1.0, delay=0.05, path_prefix="/v1/incident_reports")
    secrets = SecretStore(tmp_path / "secrets")
    builder = in_process_builder(world, api)
    p1 = actions.Pipeline(store, secrets, builder)
    t = connected(p1, world)
    for _ in range(40):
        world.new_incident()
    url = store.engine.url.render_as_string(hide_password=False)
    other = PsaStore.from_url(url)
    pipelines = [p1, actions.Pipeline(other, secrets, builder)]
    barrier = threading.Barrier(2)
    results = []

    def worker(p):
        barrier.wait()
        results.append(actions.poll(p, t.tenant))

    try:
        threads = [threading.Thread(target=worker, args=(p,)) for p in pipelines]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(r.skipped or "ran" for r in results) == ["poll_in_progress", "ran"]
        # and a third poll right after finds everything already done
        follow_up = actions.poll(pipelines[1], t.tenant)
    finally:
        other.dispose()
    assert sum(r.counts["create_ticket"] for r in results) == 40
    assert follow_up.counts["create_ticket"] == 0
    tickets = rows(store, "tickets", t.tenant)
    assert len(tickets) == 40
    assert len({tk["attributes"]["source_reference"] for tk in tickets}) == 40


def test_disconnect_deactivates_and_deletes_secrets_but_keeps_tickets(pipeline, world):
    t = connected(pipeline, world)
    world.new_incident()
    actions.poll(pipeline, t.tenant)
    assert actions.disconnect(pipeline, t.tenant) is True
    assert pipeline.secrets.credentials(t.tenant) is None
    assert actions.status(pipeline, t.tenant)["is_connected"] is False
    assert len(rows(pipeline.store, "tickets", t.tenant)) == 1
    assert len(rows(pipeline.store, "rmm_organization_mappings", t.tenant)) == 4
    with pytest.raises(actions.ConfigurationError, match="not connected"):
        actions.poll(pipeline, t.tenant)


def test_unknown_tenant_is_a_configuration_error(pipeline):
    with pytest.raises(actions.ConfigurationError, match="does not exist"):
        actions.status(pipeline, "00000000-0000-0000-0000-000000000000")
