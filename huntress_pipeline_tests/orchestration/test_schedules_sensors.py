"""Schedules and sensors evaluated on a Dagster instance with tenants."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dagster import AssetCheckKey, AssetKey, DagsterRunStatus, SensorResult, SkipReason, build_schedule_context, build_sensor_context

from huntress_pipeline.orchestration.partitions import TENANT_TAG, tenant_day_key, today_utc
from huntress_pipeline.orchestration.schedules import huntress_directory_sync, huntress_incident_poll
from huntress_pipeline.orchestration.sensors import huntress_routing_config_sensor, huntress_tenant_sensor
from huntress_pipeline.psa import actions
from huntress_pipeline.psa.secrets import HuntressCredentials
from huntress_pipeline_tests.fixtures import seed_reference


def tick(env, when=None, schedule=huntress_incident_poll):
    with build_schedule_context(instance=env.instance, scheduled_execution_time=when or datetime.now(timezone.utc),
                                resources={"psa": env.resources["psa"]}) as context:
        return schedule(context)


def sense(env, sensor, cursor=None):
    """Evaluates the sensor; returns (result, cursor after)."""
    with build_sensor_context(instance=env.instance, cursor=cursor, resources={"psa": env.resources["psa"]}) as context:
        return sensor(context), context.cursor


def second_tenant(env, *, routing: bool):
    t = seed_reference(env.pipeline.store)
    creds = HuntressCredentials(env.world.credentials.api_key, env.world.credentials.api_secret)
    actions.connect(env.pipeline, t.tenant, creds, env.url)
    if routing:
        actions.configure(env.pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client, fallback_board=t.triage_board)
    return t


def test_the_poll_schedule_requests_todays_partition_for_a_due_tenant(env):
    requests = tick(env)
    assert len(requests) == 1
    request = requests[0]
    assert request.partition_key == str(tenant_day_key(env.tenant.tenant, today_utc()))
    assert request.tags[TENANT_TAG] == env.tenant.tenant


def test_the_poll_schedule_skips_tenants_not_due_incomplete_or_in_flight(env):
    incomplete = second_tenant(env, routing=False)
    env.instance.add_dynamic_partitions("tenants", [incomplete.tenant])
    # just polled: not due for another 5 minutes
    env.world.new_incident()
    assert actions.poll(env.pipeline, env.tenant.tenant).success
    result = tick(env)
    assert isinstance(result, SkipReason)
    assert f"{env.tenant.tenant}: not due" in result.skip_message
    assert f"{incomplete.tenant}: routing incomplete" in result.skip_message
    assert len(tick(env, datetime.now(timezone.utc) + timedelta(minutes=5))) == 1

    # a per-tenant interval of 15 minutes
    actions.configure(env.pipeline, env.tenant.tenant, poll_interval=15)
    assert isinstance(tick(env, datetime.now(timezone.utc) + timedelta(minutes=10)), SkipReason)
    assert len(tick(env, datetime.now(timezone.utc) + timedelta(minutes=16))) == 1

    # a run already in flight for the tenant
    job = env.defs.resolve_job_def("huntress_incident_job")
    env.instance.create_run_for_job(job, tags={TENANT_TAG: env.tenant.tenant}, status=DagsterRunStatus.STARTED)
    result = tick(env, datetime.now(timezone.utc) + timedelta(hours=1))
    assert isinstance(result, SkipReason) and f"{env.tenant.tenant}: run in flight" in result.skip_message


def test_the_directory_schedule_requests_every_connected_tenant(env):
    requests = tick(env, schedule=huntress_directory_sync)
    assert [r.partition_key for r in requests] == [env.tenant.tenant]


def partition_changes(result):
    changes = {"add": set(), "delete": set()}
    for request in result.dynamic_partitions_requests:
        kind = "add" if type(request).__name__ == "AddDynamicPartitionsRequest" else "delete"
        changes[kind] |= set(request.partition_keys)
    return changes


def test_the_tenant_sensor_adds_and_removes_tenant_partitions(env):
    # (on PostgreSQL the database is shared with other tests: their tenants are connected too)
    other = second_tenant(env, routing=True)
    result, _ = sense(env, huntress_tenant_sensor)
    assert isinstance(result, SensorResult)
    changes = partition_changes(result)
    assert other.tenant in changes["add"] and env.tenant.tenant not in changes["add"]
    assert changes["delete"] == set()
    env.instance.add_dynamic_partitions("tenants", sorted(changes["add"]))

    actions.disconnect(env.pipeline, env.tenant.tenant)
    result, _ = sense(env, huntress_tenant_sensor)
    assert partition_changes(result)["delete"] == {env.tenant.tenant}
    env.instance.delete_dynamic_partition("tenants", env.tenant.tenant)
    assert isinstance(sense(env, huntress_tenant_sensor)[0], SkipReason)


def test_the_routing_sensor_records_a_warn_check_naming_what_is_missing(env):
    incomplete = second_tenant(env, routing=False)
    env.instance.add_dynamic_partitions("tenants", [incomplete.tenant])
    result, cursor = sense(env, huntress_routing_config_sensor)
    by_tenant = {e.partition: e for e in result.asset_events}
    bad = by_tenant[incomplete.tenant]
    assert bad.passed is False and bad.severity.value == "WARN"
    assert bad.asset_key == AssetKey("huntress_organizations") and bad.check_name == "routing_config_complete"
    assert bad.metadata["missing"].value == "board, fallback client, fallback board"
    assert by_tenant[env.tenant.tenant].passed is True

    # unchanged on the next evaluation: nothing new is recorded
    again, cursor = sense(env, huntress_routing_config_sensor, cursor)
    assert isinstance(again, SkipReason) and incomplete.tenant in again.skip_message

    # fixed: the tenant's check turns green
    actions.configure(env.pipeline, incomplete.tenant, board=incomplete.security_board,
                      fallback_client=incomplete.fallback_client, fallback_board=incomplete.triage_board)
    fixed, _ = sense(env, huntress_routing_config_sensor, cursor)
    assert [(e.partition, e.passed) for e in fixed.asset_events] == [(incomplete.tenant, True)]


def test_the_routing_check_evaluation_is_stored_where_the_ui_reads_it(env):
    incomplete = second_tenant(env, routing=False)
    env.instance.add_dynamic_partitions("tenants", [incomplete.tenant])
    result, _ = sense(env, huntress_routing_config_sensor)
    for event in result.asset_events:
        env.instance.report_runless_asset_event(event)
    key = AssetCheckKey(AssetKey("huntress_organizations"), "routing_config_complete")
    records = env.instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
    assert len(records) == 2
