"""One poll cycle for one tenant's Huntress integration (used by the CLI and the assets).

Cursor-walk new incident activity, process it ascending, advance the cursor
only past committed incidents (stopping at the first failure), and record the
sync status. A backfill window (a past day) walks that day and leaves the
cursor alone. A per-tenant lease in the database makes a second concurrent
poll of the same tenant step aside, so no ticket is ever created twice.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from ..core.cursor import CursorWalkPage, WalkedIncidents, collect_incidents_since
from ..core.settings import HuntressSettings, is_routing_config_complete, missing_routing_fields
from ..core.timeutil import format_timestamp, parse_timestamp, utcnow
from ..huntress.client import HuntressClient
from ..huntress.errors import HuntressError
from ..huntress.spool import SpoolSink
from .directory import Directory
from .history import record_incident_versions
from .processor import BatchOutcome, IncidentOutcome, process_walk
from .store import IntegrationRecord, PsaStore

log = logging.getLogger(__name__)
LOCK_TTL = timedelta(minutes=10)

#: Builds the integration's Huntress client from stored credentials (None when they are missing).
ClientFactory = Callable[[IntegrationRecord], "HuntressClient | None"]


@dataclass
class PollResult:
    tenant: str
    success: bool
    skipped: str | None = None
    processed: int = 0
    failed: int = 0
    seen: int = 0
    cursor_before: str | None = None
    cursor: str | None = None
    error: str | None = None
    #: The error may pass on its own (a retry makes sense).
    error_transient: bool = False
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in ("create_ticket", "append_note", "record_only", "skip")})
    severity_counts: dict[str, int] = field(default_factory=dict)
    unmapped_tickets: int = 0
    tickets_closed: int = 0
    api_requests: int = 0
    truncated: bool = False
    window_start: str | None = None
    window_end: str | None = None
    duration_seconds: float = 0.0
    outcomes: list[IncidentOutcome] = field(default_factory=list)

    def as_dict(self, with_outcomes: bool = False) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "outcomes"}
        if with_outcomes:
            data["outcomes"] = [o.as_dict() for o in self.outcomes]
        return data


@dataclass
class IncidentBatch:
    """What one walk of the incident reports brought back (the huntress_incidents asset's value)."""

    tenant: str
    #: Oldest first; a list, or a spool on disk for walks that should not sit in memory.
    incidents: WalkedIncidents
    cursor_before: str | None
    window_start: datetime | None = None
    window_end: datetime | None = None
    pages: int = 0
    truncated: bool = False
    reached: datetime | None = None
    api_requests: int = 0

    @property
    def backfill(self) -> bool:
        return self.window_start is not None


class PollSkipped(Exception):
    """The integration cannot be polled now; ``reason`` is the PollResult.skipped value."""

    def __init__(self, reason: str, message: str, *, success: bool):
        super().__init__(message)
        self.reason = reason
        self.success = success


def pollable_integration(store: PsaStore, tenant: str) -> IntegrationRecord:
    """The tenant's active integration with complete routing, or PollSkipped saying why not."""
    integration = store.get_integration(tenant)
    if integration is None or not integration.is_active:
        raise PollSkipped("integration_not_found", f"tenant {tenant} has no active Huntress integration", success=False)
    if not is_routing_config_complete(integration.settings):
        # Not an error: set-up is unfinished. The routing sensor and `status` say what is missing.
        missing = ", ".join(missing_routing_fields(integration.settings))
        raise PollSkipped("routing_config_incomplete", f"routing incomplete: missing {missing}", success=True)
    return integration


def collect_batch(
    integration: IntegrationRecord,
    client: HuntressClient,
    *,
    now: datetime | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    spool: Path | None = None,
) -> IncidentBatch:
    """Walk the incident reports from the cursor (or over a backfill window).

    With ``spool`` (a folder) the pages go to disk as they arrive and the batch holds one page at a time.
    """
    settings = integration.settings
    before = client.request_count

    def fetch(token: str | None) -> CursorWalkPage:
        page = client.list_incident_reports_page(page_token=token)
        return CursorWalkPage(page.incidents, page.next_page_token)

    walk = collect_incidents_since(
        fetch, cursor_iso=settings.incident_cursor, backfill_days=settings.backfill_days, now=now or utcnow(),
        window_start=window_start, window_end=window_end, sink=SpoolSink(spool) if spool is not None else None,
    )
    if walk.unparseable_ids:
        log.warning("tenant %s: incidents %s have no readable updated_at and were left out",
                    integration.tenant, list(walk.unparseable_ids))
    return IncidentBatch(
        tenant=integration.tenant, incidents=walk.incidents, cursor_before=settings.incident_cursor,
        window_start=window_start, window_end=window_end, pages=walk.pages_fetched, truncated=walk.truncated,
        reached=walk.reached, api_requests=client.request_count - before,
    )


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def apply_batch(store: PsaStore, integration: IntegrationRecord, client: HuntressClient, batch: IncidentBatch,
                *, run_id: str | None = None) -> PollResult:
    """Process a walked batch and (for a cursor walk) advance the cursor past what committed.

    The caller holds the tenant's poll lease. The actions taken go to the incident history.
    """
    tenant, integration_id = integration.tenant, integration.integration_id
    result = PollResult(tenant=tenant, success=False, seen=len(batch.incidents), cursor_before=batch.cursor_before,
                        cursor=batch.cursor_before, truncated=batch.truncated)
    if batch.backfill:
        result.window_start = format_timestamp(batch.window_start)
        result.window_end = format_timestamp(batch.window_end) if batch.window_end else None
    before = client.request_count
    outcome: BatchOutcome = process_walk(store, integration, batch.incidents, Directory(store, tenant, integration_id, client),
                                         run_id=run_id)
    result.api_requests = batch.api_requests + client.request_count - before
    result.outcomes = outcome.outcomes
    result.processed = outcome.processed
    result.failed = 1 if outcome.error else 0
    result.counts = outcome.counts()
    for o in outcome.outcomes:
        result.severity_counts[o.severity] = result.severity_counts.get(o.severity, 0) + 1
    result.unmapped_tickets = sum(1 for o in outcome.outcomes if o.unmapped)
    result.tickets_closed = sum(1 for o in outcome.outcomes if o.closed)
    errors = [outcome.error] if outcome.error else []
    result.error_transient = outcome.transient
    if batch.truncated:
        errors.append(
            f"the incident walk stopped at its page cap after {batch.pages} pages; activity older than "
            f"{format_timestamp(batch.reached) if batch.reached else '?'} was not read and the cursor was not moved"
        )
    result.error = "; ".join(errors) or None
    result.success = not errors
    if batch.backfill:
        return result
    last = outcome.outcomes[-1].updated_at if outcome.outcomes and not batch.truncated else None

    def advance(current: HuntressSettings) -> HuntressSettings:
        # Settings are re-read under a row lock before the cursor is written, so an edit
        # made while the poll ran is not clobbered; the cursor never moves backwards.
        cursor = current.incident_cursor
        if last is not None and (cursor is None or parse_timestamp(last) > parse_timestamp(cursor)):
            cursor = last
        return current.with_changes(incident_cursor=cursor)

    settings = store.update_settings(
        tenant, integration_id, advance,
        sync_status="error" if result.error else "completed", sync_error=result.error, last_incremental_sync_at=utcnow(),
    )
    result.cursor = settings.incident_cursor
    return result


def poll_tenant(
    store: PsaStore,
    tenant: str,
    client_factory: ClientFactory,
    *,
    now: datetime | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    holder: str | None = None,
) -> PollResult:
    """One whole poll cycle: walk, plan and write under the tenant's poll lease."""
    started = time.perf_counter()
    result = PollResult(tenant=tenant, success=False)
    try:
        integration = pollable_integration(store, tenant)
    except PollSkipped as skip:
        result.success, result.skipped, result.error = skip.success, skip.reason, str(skip)
        integration = store.get_integration(tenant)
        result.cursor_before = result.cursor = integration.settings.incident_cursor if integration else None
        return result
    result.cursor_before = result.cursor = integration.settings.incident_cursor
    client = client_factory(integration)
    if client is None:
        message = "Missing Huntress API credentials"
        store.set_sync_status(tenant, integration.integration_id, "error", message)
        result.skipped, result.error = "missing_credentials", message
        return result
    holder = holder or new_holder()
    if not store.try_acquire_poll_lock(tenant, integration.integration_id, holder, LOCK_TTL):
        client.close()
        result.success, result.skipped = True, "poll_in_progress"
        return result
    backfill = window_start is not None
    try:
        if not backfill:
            store.set_sync_status(tenant, integration.integration_id, "syncing")
        with tempfile.TemporaryDirectory(prefix="huntress-walk-") as spool:
            try:
                batch = collect_batch(integration, client, now=now, window_start=window_start, window_end=window_end,
                                      spool=Path(spool))
            except HuntressError as exc:
                result.error = str(exc)
                if not backfill:
                    store.set_sync_status(tenant, integration.integration_id, "error", result.error)
                log.error("incident walk failed for tenant %s: %s", tenant, exc)
                return result
            record_incident_versions(store, tenant, integration.integration_id, batch.incidents,
                                     partition=f"cli:{window_start:%Y-%m-%d}" if backfill else "cli:poll",
                                     directory=Directory(store, tenant, integration.integration_id, client))
            store.renew_poll_lock(tenant, integration.integration_id, holder, LOCK_TTL)
            result = apply_batch(store, integration, client, batch)
    finally:
        store.release_poll_lock(tenant, integration.integration_id, holder)
        result.api_requests = client.request_count
        client.close()
        result.duration_seconds = round(time.perf_counter() - started, 3)
    return result
