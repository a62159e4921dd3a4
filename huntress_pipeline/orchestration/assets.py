"""The Huntress assets (group ``huntress``).

Per tenant: ``huntress_organizations`` and ``huntress_agents`` (the directory).
Per tenant and UTC day: ``huntress_incidents`` (the walk), ``incident_plans``
(the planner's decision per incident) and ``psa_tickets`` (alerts, tickets,
notes, closures; advances the cursor). Today's partition walks from the
cursor; a past day walks that day's window and is idempotent.

These functions only wire the core and the adapters together.
"""


import time
from pathlib import Path
from collections import Counter
from typing import Any

from dagster import (
    AssetExecutionContext,
    Backoff,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    Output,
    RetryPolicy,
    asset,
)

from ..huntress.errors import HuntressError
from ..psa.directory import Directory, refresh_agents
from ..psa.history import record_incident_versions
from ..psa.orgsync import sync_organizations
from ..psa.poller import LOCK_TTL, IncidentBatch, PollSkipped, apply_batch, collect_batch, pollable_integration
from ..core.cursor import in_chunks
from ..huntress.spool import SpooledIncidents, clean_old_spools, new_spool_folder
from ..psa.processor import plan_incidents
from .metadata import markdown_table
from .partitions import day_window, split_tenant_day, tenant_day_partitions, tenant_partitions, today_utc
from .resources import HuntressClientFactory, PsaDatabase

#: Transient Huntress or database trouble is retried with backoff; the run resumes where it stopped.
RETRY = RetryPolicy(max_retries=3, delay=15, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)
GROUP = "huntress"


class PollInProgress(Exception):
    """Another poll holds the tenant's lease (retried)."""


def _client(huntress: HuntressClientFactory, psa: PsaDatabase, integration):
    client = huntress.pipeline(psa).client_for(integration)
    if client is None:
        raise Failure(f"no Huntress credentials stored for tenant {integration.tenant}: run `huntress-pipeline connect`",
                      allow_retries=False)
    return client


def _non_retryable(exc: Exception) -> Exception:
    if isinstance(exc, HuntressError) and not exc.transient:
        return Failure(str(exc), allow_retries=False)
    return exc


TABLE_ROWS = 50


@asset(partitions_def=tenant_partitions, group_name=GROUP, retry_policy=RETRY, kinds={"python"},
       description="Huntress organizations of the tenant, synced to rmm_organization_mappings with exact-name auto-match.")
def huntress_organizations(context: AssetExecutionContext, psa: PsaDatabase, huntress: HuntressClientFactory) -> MaterializeResult:
    started = time.perf_counter()
    tenant = context.partition_key
    pipeline = huntress.pipeline(psa)
    integration = pipeline.require_integration(tenant)
    client = _client(huntress, psa, integration)
    try:
        result = sync_organizations(psa.store, tenant, integration.integration_id, client.list_organizations())
    except HuntressError as exc:
        raise _non_retryable(exc) from exc
    finally:
        client.close()
    counts = psa.store.status_counts(tenant, integration.integration_id)
    return MaterializeResult(metadata={
        "organizations": result.total, "created": result.created, "auto_matched": result.auto_matched,
        "unmapped": counts["unmapped_count"], "api_requests": client.request_count,
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


@asset(partitions_def=tenant_partitions, group_name=GROUP, retry_policy=RETRY, kinds={"python"},
       description="Snapshot of the tenant's Huntress agents (listed 500 a page), the source of ticket host details.")
def huntress_agents(context: AssetExecutionContext, psa: PsaDatabase, huntress: HuntressClientFactory) -> MaterializeResult:
    started = time.perf_counter()
    tenant = context.partition_key
    integration = huntress.pipeline(psa).require_integration(tenant)
    client = _client(huntress, psa, integration)
    try:
        count = refresh_agents(psa.store, tenant, integration.integration_id, client)
    except HuntressError as exc:
        raise _non_retryable(exc) from exc
    finally:
        client.close()
    return MaterializeResult(metadata={
        "agents": count, "api_requests": client.request_count, "duration_seconds": round(time.perf_counter() - started, 3),
    })


@asset(partitions_def=tenant_day_partitions, group_name=GROUP, retry_policy=RETRY, kinds={"python"},
       description="The batch of incident reports walked for a tenant and day: from the cursor for today, the day's window for a past day.")
def huntress_incidents(context: AssetExecutionContext, psa: PsaDatabase, huntress: HuntressClientFactory) -> Output[IncidentBatch]:
    started = time.perf_counter()
    tenant, day = split_tenant_day(context.partition_key)
    try:
        integration = pollable_integration(psa.store, tenant)
    except PollSkipped as skip:
        if not skip.success:
            raise Failure(str(skip), allow_retries=False) from None
        context.log.warning(f"tenant {tenant}: {skip}; nothing walked")
        batch = IncidentBatch(tenant=tenant, incidents=[], cursor_before=None)
        return Output(batch, metadata={"skipped": skip.reason, "reason": str(skip), "incidents_seen": 0, "api_requests": 0})
    window = {} if day >= today_utc() else dict(zip(("window_start", "window_end"), day_window(day)))
    client = _client(huntress, psa, integration)
    # The walk goes to a spool in Dagster's storage (one page in memory at a time); psa_tickets reads it
    # and removes it once the batch is written.
    spool_root = Path(context.instance.storage_directory()) / "huntress_spool"
    clean_old_spools(spool_root)
    try:
        batch = collect_batch(integration, client, spool=new_spool_folder(spool_root, f"{tenant}-{day}-{context.run.run_id[:8]}"),
                              **window)
        # The history is written here, with the hosts of new versions (from the snapshot, or fetched once).
        directory = Directory(psa.store, tenant, integration.integration_id, client)
        new_versions = record_incident_versions(psa.store, tenant, integration.integration_id, batch.incidents,
                                                run_id=context.run.run_id, partition=str(context.partition_key),
                                                directory=directory)
        batch.api_requests = client.request_count
    except HuntressError as exc:
        raise _non_retryable(exc) from exc
    finally:
        client.close()
    severities = Counter(i.severity for i in batch.incidents)
    return Output(batch, metadata={
        "mode": "backfill window" if batch.backfill else "cursor walk",
        "incidents_seen": len(batch.incidents),
        "new_versions_recorded": new_versions,
        "by_severity": MetadataValue.json(dict(severities)),
        "pages": batch.pages,
        "truncated": batch.truncated,
        "api_requests": batch.api_requests,
        "cursor_before": batch.cursor_before or "none",
        "duration_seconds": round(time.perf_counter() - started, 3),
    })


@asset(partitions_def=tenant_day_partitions, group_name=GROUP, kinds={"python"},
       description="The planner's decision per incident (create, note, close, record, skip), shown as a table.")
def incident_plans(context: AssetExecutionContext, psa: PsaDatabase, huntress_incidents: IncidentBatch) -> Output[IncidentBatch]:
    tenant, _ = split_tenant_day(context.partition_key)
    integration = psa.store.get_integration(tenant)
    counts: Counter = Counter()
    shown: list[dict[str, Any]] = []
    if integration is not None:
        for chunk in in_chunks(huntress_incidents.incidents, 500):
            for planned in plan_incidents(psa.store, integration, chunk):
                counts[planned.action.kind] += 1
                if len(shown) < TABLE_ROWS:
                    shown.append(planned.as_row())
    total = sum(counts.values())
    table = markdown_table(shown, TABLE_ROWS, total)
    return Output(huntress_incidents, metadata={
        "plans": MetadataValue.md(table),
        "counts": MetadataValue.json({k: counts.get(k, 0) for k in ("create_ticket", "append_note", "record_only", "skip")}),
        "incidents": total,
    })


@asset(partitions_def=tenant_day_partitions, group_name=GROUP, retry_policy=RETRY, kinds={"python"},
       description="Executes the plans in the PSA database (alerts, tickets, notes, closures) and advances the cursor.")
def psa_tickets(context: AssetExecutionContext, psa: PsaDatabase, huntress: HuntressClientFactory, incident_plans: IncidentBatch) -> MaterializeResult:
    started = time.perf_counter()
    tenant, _ = split_tenant_day(context.partition_key)
    batch = incident_plans
    store = psa.store
    try:
        integration = pollable_integration(store, tenant)
    except PollSkipped as skip:
        if not skip.success:
            raise Failure(str(skip), allow_retries=False) from None
        return MaterializeResult(metadata={"skipped": skip.reason, "reason": str(skip)})
    client = _client(huntress, psa, integration)
    holder = f"dagster:{context.run.run_id}"
    if not store.try_acquire_poll_lock(tenant, integration.integration_id, holder, LOCK_TTL):
        client.close()
        raise PollInProgress(f"another poll of tenant {tenant} is running; retrying")
    try:
        result = apply_batch(store, integration, client, batch, run_id=context.run.run_id)
    finally:
        store.release_poll_lock(tenant, integration.integration_id, holder)
        client.close()
    if not result.error and isinstance(batch.incidents, SpooledIncidents):
        batch.incidents.discard()
    metadata = {
        "incidents_seen": result.seen,
        "processed": result.processed,
        "failed": result.failed,
        "counts": MetadataValue.json(result.counts),
        "tickets_created": result.counts["create_ticket"],
        "notes_added": result.counts["append_note"],
        "tickets_closed": result.tickets_closed,
        "unmapped_tickets": result.unmapped_tickets,
        "by_severity": MetadataValue.json(result.severity_counts),
        "api_requests": result.api_requests,
        "cursor_before": result.cursor_before or "none",
        "cursor_after": result.cursor or "none",
        "duration_seconds": round(time.perf_counter() - started, 3),
    }
    if result.error:
        context.log.error(f"tenant {tenant}: {result.error}")
        # The committed incidents and the cursor are saved; a retry (transient errors only)
        # or the next run resumes at the failed incident.
        raise Failure(f"tenant {tenant}: {result.error}", metadata=metadata, allow_retries=result.error_transient)
    return MaterializeResult(metadata=metadata)


ALL_ASSETS = [huntress_organizations, huntress_agents, huntress_incidents, incident_plans, psa_tickets]
