"""Assets materialized for a tenant and day against the simulator (HTTP), SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import AssetKey, DagsterEventType

from huntress_pipeline.orchestration.partitions import tenant_day_key
from huntress_pipeline_tests.fixtures import rows

REPO = Path(__file__).resolve().parents[2]


def materializations(result):
    return {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


def test_definitions_validate_from_the_workspace(tmp_path):
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        # DAGSTER_HOME set: otherwise dagster picks up the repo's production dagster.yaml
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path),
             "HUNTRESS_PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path}/psa.db"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "All code locations passed validation" in proc.stdout + proc.stderr


def test_the_directory_job_syncs_organizations_and_agents_and_runs_the_checks(env):
    result = env.run_directory()
    assert result.success
    meta = materializations(result)
    assert meta["huntress_organizations"]["organizations"] == 4
    assert meta["huntress_agents"]["agents"] == 10
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["routing_config_complete"].passed is True
    unmapped = checks["no_unmapped_organizations"]
    assert unmapped.passed is False and unmapped.severity.value == "WARN"
    assert unmapped.metadata["unmapped_count"].value == 3  # "Acme Corp" auto-matched
    assert "Globex" in unmapped.metadata["unmapped"].value
    assert checks["poll_freshness"].passed is False  # never polled yet
    assert env.pipeline.store.agent_snapshot_count(env.tenant.tenant, env.pipeline.store.get_integration(env.tenant.tenant).integration_id) == 10


def test_todays_partition_walks_from_the_cursor_and_writes_tickets(env):
    world = env.world
    ids = [world.new_incident(severity=s) for s in ("critical", "high", "low")]
    world.new_incident(status="closed", severity="low")
    result = env.run_incidents()
    assert result.success
    meta = materializations(result)
    assert meta["huntress_incidents"]["incidents_seen"] == 4
    assert meta["huntress_incidents"]["mode"] == "cursor walk"
    assert meta["incident_plans"]["counts"] == {"create_ticket": 3, "append_note": 0, "record_only": 1, "skip": 0}
    assert "| incident_id |" in meta["incident_plans"]["plans"]
    tickets = meta["psa_tickets"]
    assert tickets["tickets_created"] == 3 and tickets["cursor_before"] == "none"
    assert tickets["cursor_after"] == max(world.incidents[i]["updated_at"] for i in world.incidents)
    assert tickets["by_severity"] == {"critical": 1, "high": 1, "low": 2}
    assert tickets["api_requests"] >= 1
    assert len(rows(env.pipeline.store, "tickets", env.tenant.tenant)) == 3

    spool_root = Path(env.instance.storage_directory()) / "huntress_spool"
    assert spool_root.is_dir() and list(spool_root.iterdir()) == []  # written, read, removed

    world.clock.advance(minutes=5)
    world.close_incident(ids[0])
    second = materializations(env.run_incidents())["psa_tickets"]
    assert second["notes_added"] == 1 and second["tickets_closed"] == 1 and second["tickets_created"] == 0
    assert second["api_requests"] == 1


def test_a_backfill_of_past_days_rerun_twice_creates_nothing_the_second_time(env):
    world = env.world
    now = datetime.now(timezone.utc)
    days = [(now - timedelta(days=d)).strftime("%Y-%m-%d") for d in (3, 2)]
    for day in days:
        start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)
        for hour in (2, 13):
            world.new_incident(at=start + timedelta(hours=hour))
    first = [materializations(env.run_incidents(day))["psa_tickets"] for day in days]
    assert [m["tickets_created"] for m in first] == [2, 2]
    assert all(m["cursor_after"] == "none" for m in first)  # a backfill never moves the cursor
    second = [materializations(env.run_incidents(day))["psa_tickets"] for day in days]
    assert [m["tickets_created"] for m in second] == [0, 0]
    assert [m["counts"]["skip"] for m in second] == [2, 2]
    assert len(rows(env.pipeline.store, "tickets", env.tenant.tenant)) == 4
    records = env.instance.fetch_materializations(AssetKey("psa_tickets"), limit=10).records
    assert {r.partition_key for r in records} == {str(tenant_day_key(env.tenant.tenant, d)) for d in days}


def test_incomplete_routing_walks_nothing_and_says_why(env):
    from huntress_pipeline.psa import actions

    env.world.new_incident()
    actions.configure(env.pipeline, env.tenant.tenant, board="")
    result = env.run_incidents()
    assert result.success
    meta = materializations(result)
    assert meta["huntress_incidents"]["skipped"] == "routing_config_incomplete"
    assert "board" in meta["huntress_incidents"]["reason"]
    assert env.api.count("/v1/incident_reports") == 0


def test_a_failing_incident_fails_the_run_and_the_next_run_resumes_there(env):
    from huntress_pipeline.psa import actions

    store, t, world = env.pipeline.store, env.tenant, env.world
    orgs = list(world.organizations)
    integration = store.get_integration(t.tenant)
    store.update_mapping(t.tenant, integration.integration_id, str(orgs[1]), client_id="00000000-0000-0000-0000-00000000dead")
    now = world.clock.now()
    ok = world.new_incident(orgs[0], at=now - timedelta(minutes=30))
    bad = world.new_incident(orgs[1], at=now - timedelta(minutes=20))
    result = env.run_incidents(raise_on_error=False)
    assert not result.success
    assert len(list((Path(env.instance.storage_directory()) / "huntress_spool").iterdir())) == 1  # kept for a retry
    failure = [e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
    assert failure and f"incident {bad}" in failure[-1].event_specific_data.error.message
    assert {a["external_alert_id"] for a in rows(store, "rmm_alerts", t.tenant)} == {str(ok)}
    assert store.get_integration(t.tenant).settings.incident_cursor == world.incidents[ok]["updated_at"]
    actions.map_org(env.pipeline, t.tenant, str(orgs[1]), client_id=t.client)
    again = env.run_incidents()
    assert materializations(again)["psa_tickets"]["tickets_created"] == 1


def test_no_secret_reaches_run_config_or_the_event_log(env):
    env.world.new_incident()
    result = env.run_incidents()
    assert result.success
    secret, key = env.world.credentials.api_secret, env.world.credentials.api_key
    run = env.instance.get_run_by_id(result.run_id)
    logs = "\n".join(str(entry) for entry in env.instance.all_logs(result.run_id))
    assert secret not in str(run.run_config) and secret not in logs
    assert key not in str(run.run_config) and key not in logs
    import base64

    assert base64.b64encode(f"{key}:{secret}".encode()).decode() not in logs
