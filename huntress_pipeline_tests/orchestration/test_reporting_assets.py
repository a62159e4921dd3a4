"""The reporting assets materialized on SQLite and PostgreSQL, refreshed by the reports sensor."""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, build_sensor_context

from huntress_pipeline.orchestration.sensors import huntress_reports_sensor


def test_reports_refresh_after_incident_runs_and_show_tables_and_a_chart(env):
    world = env.world
    orgs = list(world.organizations)
    now = world.clock.now()
    kept = world.new_incident(orgs[0], severity="critical", at=now - timedelta(hours=3))
    world.new_incident(orgs[1], severity="low", at=now - timedelta(hours=2))
    world.new_incident(orgs[2], severity="high", at=now - timedelta(hours=2))
    assert env.run_incidents().success
    world.clock.advance(minutes=90)
    world.close_incident(kept)
    assert env.run_incidents().success

    with build_sensor_context(instance=env.instance) as context:
        result = huntress_reports_sensor(context)
        cursor = result.cursor
    assert [r.partition_key for r in result.run_requests] == [env.tenant.tenant]
    with build_sensor_context(instance=env.instance, cursor=cursor) as context:
        assert huntress_reports_sensor(context).__class__.__name__ == "SkipReason"

    run = env.defs.resolve_job_def("huntress_reports_job").execute_in_process(partition_key=env.tenant.tenant, instance=env.instance)
    assert run.success
    meta = {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in run.get_asset_materialization_events()}
    summary = meta["incident_daily_summary"]
    assert summary["totals"]["opened"] == 3 and summary["totals"]["closed"] == 1 and summary["totals"]["tickets_created"] == 3
    assert summary["totals"]["unmapped"] == 2  # only "Acme Corp" is mapped (by name)
    chart = summary["incidents_per_day_by_severity"]
    assert chart["mark"] == "bar" and sum(v["incidents"] for v in chart["data"]["values"]) == 4
    assert "| date |" in summary["table"]
    ttc = meta["incident_time_to_close"]
    assert ttc["rows"] == 1 and "| critical | 1 | 4.5 |" in ttc["by_severity"]
    unmapped = meta["unmapped_incidents"]
    assert unmapped["rows"] == 2 and unmapped["still_unmapped"] == 2

    value = env.defs.load_asset_value(AssetKey("unmapped_incidents"), partition_key=env.tenant.tenant, instance=env.instance)
    assert sorted(value["incidents"]) == [1, 1]
