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
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..core.cursor import CursorWalkPage, collect_incidents_since
from ..core.settings import is_routing_config_complete, missing_routing_fields
from ..core.timeutil import format_timestamp, parse_timestamp, utcnow
from ..huntress.client import HuntressClient
from ..huntress.errors import HuntressError
from .clientfactory import ClientFactory
from .directory import Directory
from .processor import BatchOutcome, IncidentOutcome, process_incidents
from .store import PsaStore

log = logging.getLogger(__name__)
LOCK_TTL = timedelta(minutes=10)


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
    counts: dict[str, int] = field(default_factory=lambda: {k: 0 for k in ("create_ticket", "append_note", "record_only", "skip")})
    severity_counts: dict[str, int] = field(default_factory=dict)
    unmapped_tickets: int = 0
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
    started = time.perf_counter()
    result = PollResult(tenant=tenant, success=False)
    if window_start is not None:
        result.window_start = format_timestamp(window_start)
        result.window_end = format_timestamp(window_end) if window_end is not None else None
    integration = store.get_integration(tenant)
    if integration is None or not integration.is_active:
        result.skipped, result.error = "integration_not_found", f"tenant {tenant} has no active Huntress integration"
        return result
    settings = integration.settings
    result.cursor_before = result.cursor = settings.incident_cursor
    if not is_routing_config_complete(settings):
        # Not an error: set-up is unfinished. The routing sensor and `status` say what is missing.
        result.success, result.skipped = True, "routing_config_incomplete"
        result.error = "routing incomplete: missing " + ", ".join(missing_routing_fields(settings))
        return result
    client = client_factory(integration)
    if client is None:
        message = "Missing Huntress API credentials"
        store.set_sync_status(tenant, integration.integration_id, "error", message)
        result.skipped, result.error = "missing_credentials", message
        return result
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not store.try_acquire_poll_lock(tenant, integration.integration_id, holder, LOCK_TTL):
        result.success, result.skipped = True, "poll_in_progress"
        return result
    try:
        _run_cycle(store, integration, client, result, now or utcnow(), window_start, window_end, holder)
    finally:
        store.release_poll_lock(tenant, integration.integration_id, holder)
        result.api_requests = client.request_count
        client.close()
        result.duration_seconds = round(time.perf_counter() - started, 3)
    return result


def _run_cycle(store, integration, client: HuntressClient, result: PollResult, now, window_start, window_end, holder) -> None:
    tenant, integration_id, settings = integration.tenant, integration.integration_id, integration.settings
    backfill = window_start is not None
    if not backfill:
        store.set_sync_status(tenant, integration_id, "syncing")

    def fetch(token: str | None) -> CursorWalkPage:
        page = client.list_incident_reports_page(page_token=token)
        return CursorWalkPage(page.incidents, page.next_page_token)

    try:
        walk = collect_incidents_since(
            fetch, cursor_iso=settings.incident_cursor, backfill_days=settings.backfill_days, now=now,
            window_start=window_start, window_end=window_end,
        )
    except HuntressError as exc:
        result.error = str(exc)
        if not backfill:
            store.set_sync_status(tenant, integration_id, "error", result.error)
        log.error("incident walk failed for tenant %s: %s", tenant, exc)
        return
    if walk.unparseable_ids:
        log.warning("tenant %s: incidents %s have no readable updated_at and were left out", tenant, list(walk.unparseable_ids))
    result.seen = len(walk.incidents)
    result.truncated = walk.truncated
    store.renew_poll_lock(tenant, integration_id, holder, LOCK_TTL)

    batch: BatchOutcome = process_incidents(store, integration, walk.incidents, Directory(store, tenant, integration_id, client))
    result.outcomes = batch.outcomes
    result.processed = batch.processed
    result.failed = 1 if batch.error else 0
    result.counts = batch.counts()
    for outcome in batch.outcomes:
        result.severity_counts[outcome.severity] = result.severity_counts.get(outcome.severity, 0) + 1
    result.unmapped_tickets = sum(1 for o in batch.outcomes if o.unmapped)
    errors = [batch.error] if batch.error else []
    if walk.truncated:
        errors.append(
            f"the incident walk stopped at its page cap after {walk.pages_fetched} pages; activity older than "
            f"{format_timestamp(walk.reached) if walk.reached else '?'} was not read and the cursor was not moved"
        )
    result.error = "; ".join(errors) or None
    result.success = not errors

    if backfill:
        return
    cursor = settings.incident_cursor
    if not walk.truncated:
        for outcome in batch.outcomes:
            if cursor is None or parse_timestamp(outcome.updated_at) > parse_timestamp(cursor):
                cursor = outcome.updated_at
    result.cursor = cursor
    # Settings are re-read under a row lock before the cursor is written, so an
    # edit made while the poll ran is not clobbered.
    store.update_settings(
        tenant, integration_id, lambda current: current.with_changes(incident_cursor=cursor),
        sync_status="error" if result.error else "completed", sync_error=result.error, last_incremental_sync_at=utcnow(),
    )
