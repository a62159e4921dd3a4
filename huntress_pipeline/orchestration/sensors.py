"""Sensors: tenant partitions follow the connected integrations; incomplete routing is flagged."""

from dagster import AssetKey, AssetRecordsFilter, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from .checks import routing_check_result, routing_evaluation
from .jobs import huntress_reports_job
from .partitions import TENANT_TAG, split_tenant_day, tenant_partitions
from .resources import PsaDatabase


def tenant_partition_changes(current: set[str], active: set[str]) -> tuple[list[str], list[str]]:
    """Tenants to add to and delete from the ``tenants`` partition set."""
    return sorted(active - current), sorted(current - active)


@sensor(minimum_interval_seconds=60, description="Adds and removes tenant partitions as Huntress is connected and disconnected.")
def huntress_tenant_sensor(context: SensorEvaluationContext, psa: PsaDatabase):
    current = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    active = {i.tenant for i in psa.store.integrations(active_only=True)}
    add, delete = tenant_partition_changes(current, active)
    if not add and not delete:
        return SkipReason(f"{len(active)} tenant partitions, unchanged")
    requests = []
    if add:
        requests.append(tenant_partitions.build_add_request(add))
    if delete:
        requests.append(tenant_partitions.build_delete_request(delete))
    context.log.info(f"tenant partitions: +{add} -{delete}")
    return SensorResult(dynamic_partitions_requests=requests)


@sensor(minimum_interval_seconds=300,
        description="Records the routing_config_complete check for every tenant: WARN, with what is missing, while routing is incomplete.")
def huntress_routing_config_sensor(context: SensorEvaluationContext, psa: PsaDatabase):
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    evaluations, incomplete = [], []
    for integration in psa.store.integrations(active_only=True):
        if integration.tenant not in known:
            continue
        passed, metadata = routing_check_result(integration)
        # Record a change only: the same verdict again would flood the event log.
        state = f"{passed}:{metadata['missing']}"
        cursor = dict(item.split("=", 1) for item in (context.cursor or "").split(";") if "=" in item)
        if cursor.get(integration.tenant) != state:
            evaluations.append(routing_evaluation(integration.tenant, integration))
        cursor[integration.tenant] = state
        context.update_cursor(";".join(f"{k}={v}" for k, v in sorted(cursor.items())))
        if not passed:
            incomplete.append(f"{integration.tenant} (missing {metadata['missing']})")
    if incomplete:
        context.log.warning("routing incomplete: " + "; ".join(incomplete))
    if not evaluations:
        return SkipReason("routing unchanged" + (f"; incomplete: {'; '.join(incomplete)}" if incomplete else ""))
    return SensorResult(asset_events=evaluations)


@sensor(job=huntress_reports_job, minimum_interval_seconds=60,
        description="After psa_tickets materializes for a tenant, refreshes that tenant's reports (one run per tenant).")
def huntress_reports_sensor(context: SensorEvaluationContext):
    after = int(context.cursor) if context.cursor else None
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("psa_tickets"), after_storage_id=after), limit=1000, ascending=True
    ).records
    if not records:
        return SkipReason("no new psa_tickets materialization")
    tenants = sorted({split_tenant_day(r.partition_key)[0] for r in records if r.partition_key})
    known = set(context.instance.get_dynamic_partitions(tenant_partitions.name))
    last = max(r.storage_id for r in records)
    return SensorResult(
        run_requests=[RunRequest(run_key=f"{t}:{last}", partition_key=t, tags={TENANT_TAG: t}) for t in tenants if t in known],
        cursor=str(last),
    )
