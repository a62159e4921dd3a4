"""Schedules: the 5-minute incident poll and the hourly directory sync."""

from datetime import datetime, timezone

from dagster import DagsterRunStatus, RunRequest, RunsFilter, ScheduleEvaluationContext, SkipReason, schedule

from ..core.settings import is_poll_due, is_routing_config_complete
from .jobs import huntress_directory_job, huntress_incident_job
from .partitions import TENANT_TAG, tenant_day_key, tenant_partitions, today_utc
from .resources import PsaDatabase

IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def _tick_time(context: ScheduleEvaluationContext) -> datetime:
    when = context.scheduled_execution_time or datetime.now(timezone.utc)
    return when.astimezone(timezone.utc)


def tenant_run_in_flight(instance, tenant: str) -> bool:
    return bool(instance.get_run_records(RunsFilter(tags={TENANT_TAG: tenant}, statuses=IN_FLIGHT), limit=1))


@schedule(job=huntress_incident_job, cron_schedule="*/5 * * * *", execution_timezone="UTC",
          description="Every 5 minutes: one run per tenant whose poll is due, whose routing is complete and that has no run in flight.")
def huntress_incident_poll(context: ScheduleEvaluationContext, psa: PsaDatabase):
    now = _tick_time(context)
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    requests, skipped = [], []
    for integration in psa.store.integrations(active_only=True):
        tenant = integration.tenant
        if tenant not in known:
            skipped.append(f"{tenant}: not yet a partition")
        elif not is_routing_config_complete(integration.settings):
            skipped.append(f"{tenant}: routing incomplete")
        elif not is_poll_due(integration.last_incremental_sync_at, integration.settings.poll_interval_minutes, now):
            skipped.append(f"{tenant}: not due")
        elif tenant_run_in_flight(context.instance, tenant):
            skipped.append(f"{tenant}: run in flight")
        else:
            requests.append(RunRequest(
                run_key=f"{tenant}:{now.isoformat()}",
                partition_key=tenant_day_key(tenant, today_utc(now)),
                tags={TENANT_TAG: tenant},
            ))
    if not requests:
        return SkipReason("no tenant to poll: " + ("; ".join(skipped) or "no active Huntress integration"))
    return requests


@schedule(job=huntress_directory_job, cron_schedule="0 * * * *", execution_timezone="UTC",
          description="Hourly: organizations (auto-match) and the agents snapshot for every connected tenant.")
def huntress_directory_sync(context: ScheduleEvaluationContext, psa: PsaDatabase):
    now = _tick_time(context)
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    requests = [
        RunRequest(run_key=f"{i.tenant}:{now.isoformat()}", partition_key=i.tenant, tags={TENANT_TAG: i.tenant})
        for i in psa.store.integrations(active_only=True) if i.tenant in known
    ]
    return requests or SkipReason("no connected tenant")
