"""Asset checks on the tenant's Huntress directory (one result per tenant partition).

- routing_config_complete: WARN naming what routing still needs (the routing sensor
  records the same check for every tenant, so the UI shows it without a run);
- no_unmapped_organizations: WARN with the names of the unmapped organizations;
- poll_freshness: WARN when the last successful poll is older than 3 poll intervals.
"""


from datetime import datetime, timedelta

from dagster import AssetCheckEvaluation, AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetKey, asset_check

from ..core.settings import missing_routing_fields
from ..core.timeutil import format_timestamp, parse_timestamp, utcnow
from ..psa.store import IntegrationRecord
from .assets import huntress_organizations
from .partitions import tenant_partitions
from .resources import PsaDatabase

ROUTING_CHECK = "routing_config_complete"
FRESHNESS_INTERVALS = 3


def routing_check_result(integration: IntegrationRecord | None) -> tuple[bool, dict]:
    if integration is None or not integration.is_active:
        return False, {"missing": "Huntress is not connected"}
    missing = missing_routing_fields(integration.settings)
    return not missing, {"missing": ", ".join(missing) if missing else "nothing"}


def routing_evaluation(tenant: str, integration: IntegrationRecord | None) -> AssetCheckEvaluation:
    """The routing check's result for a tenant, as the routing sensor records it."""
    passed, metadata = routing_check_result(integration)
    return AssetCheckEvaluation(
        asset_key=AssetKey("huntress_organizations"), check_name=ROUTING_CHECK, passed=passed,
        severity=AssetCheckSeverity.WARN, metadata=metadata, partition=tenant,
        description=None if passed else f"routing incomplete for tenant {tenant}: polling is paused",
    )


@asset_check(asset=huntress_organizations, name=ROUTING_CHECK, partitions_def=tenant_partitions,
             description="Board, fallback client/board and a priority per severity are set (else polling is paused).")
def routing_config_complete(context: AssetCheckExecutionContext, psa: PsaDatabase) -> AssetCheckResult:
    passed, metadata = routing_check_result(psa.store.get_integration(context.partition_key))
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN, metadata=metadata)


@asset_check(asset=huntress_organizations, partitions_def=tenant_partitions,
             description="Every Huntress organization is mapped to a client (unmapped ones land on the fallback client).")
def no_unmapped_organizations(context: AssetCheckExecutionContext, psa: PsaDatabase) -> AssetCheckResult:
    integration = psa.store.get_integration(context.partition_key)
    if integration is None:
        return AssetCheckResult(passed=False, severity=AssetCheckSeverity.WARN, metadata={"unmapped": "not connected"})
    unmapped = [m.external_organization_name or m.external_organization_id
                for m in psa.store.list_mappings(integration.tenant, integration.integration_id) if m.client_id is None]
    return AssetCheckResult(
        passed=not unmapped, severity=AssetCheckSeverity.WARN,
        metadata={"unmapped_count": len(unmapped), "unmapped": ", ".join(sorted(unmapped)) or "none"},
    )


def freshness(integration: IntegrationRecord | None, now: datetime) -> tuple[bool, dict]:
    if integration is None or not integration.is_active:
        return False, {"last_successful_poll": "not connected"}
    interval = integration.settings.poll_interval_minutes
    limit = timedelta(minutes=interval * FRESHNESS_INTERVALS)
    last = integration.last_incremental_sync_at
    ok = last is not None and integration.sync_status == "completed" and now - parse_timestamp(last) <= limit
    return ok, {
        "last_poll": format_timestamp(last) if last else "never",
        "sync_status": integration.sync_status or "unknown",
        "limit_minutes": interval * FRESHNESS_INTERVALS,
    }


@asset_check(asset=huntress_organizations, partitions_def=tenant_partitions,
             description="The last poll succeeded within 3 poll intervals.")
def poll_freshness(context: AssetCheckExecutionContext, psa: PsaDatabase) -> AssetCheckResult:
    passed, metadata = freshness(psa.store.get_integration(context.partition_key), utcnow())
    return AssetCheckResult(passed=passed, severity=AssetCheckSeverity.WARN, metadata=metadata)


ALL_CHECKS = [routing_config_complete, no_unmapped_organizations, poll_freshness]


