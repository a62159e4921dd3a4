"""What a person can do with the integration: the spec's server actions.

connect, status, configure, routing options, organization sync/list/map,
agents sync, poll now, disconnect. The command line and the Dagster assets
both call these; there is no second implementation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ..core.settings import (
    HuntressSettings,
    SeverityPriorityMap,
    is_routing_config_complete,
    missing_routing_fields,
    prefill_severity_priority_map,
)
from ..core.timeutil import format_timestamp
from ..huntress.client import DEFAULT_BASE_URL, HuntressClient
from ..huntress.errors import HuntressError
from .directory import refresh_agents
from .orgsync import OrgSyncResult, sync_organizations
from .poller import PollResult, poll_tenant
from .secrets import HuntressCredentials, SecretStore
from .store import IntegrationRecord, MappingRecord, PsaStore, RoutingOptions

log = logging.getLogger(__name__)

ClientBuilder = Callable[[str, str, "str | None"], HuntressClient]


class ActionError(Exception):
    """The operation failed (exit code 1)."""

    exit_code = 1


class ConfigurationError(ActionError):
    """Bad usage or configuration: unknown tenant or id, not connected (exit code 2)."""

    exit_code = 2


def _default_builder(api_key: str, api_secret: str, base_url: str | None) -> HuntressClient:
    return HuntressClient(api_key, api_secret, base_url=base_url)


@dataclass
class Pipeline:
    """The PSA store, the secret store, and how to build a Huntress client."""

    store: PsaStore
    secrets: SecretStore = field(default_factory=SecretStore)
    client_builder: ClientBuilder = _default_builder

    def client_for(self, integration: IntegrationRecord) -> HuntressClient | None:
        credentials = self.secrets.credentials(integration.tenant)
        if credentials is None:
            return None
        return self.client_builder(credentials.api_key, credentials.api_secret, integration.instance_url)

    # -- lookups shared by the actions -----------------------------------------------
    def require_tenant(self, tenant: str) -> None:
        self.store.require_schema()
        if not self.store.tenant_exists(tenant):
            raise ConfigurationError(f"tenant {tenant} does not exist in the PSA database")

    def require_integration(self, tenant: str) -> IntegrationRecord:
        self.require_tenant(tenant)
        integration = self.store.get_integration(tenant)
        if integration is None or not integration.is_active:
            raise ConfigurationError(f"Huntress is not connected for tenant {tenant}: run `huntress-pipeline connect` first")
        return integration

    def require_client(self, integration: IntegrationRecord) -> HuntressClient:
        client = self.client_for(integration)
        if client is None:
            raise ConfigurationError(
                f"no Huntress credentials stored for tenant {integration.tenant}: run `huntress-pipeline connect` again"
            )
        return client


@dataclass(frozen=True)
class ConnectResult:
    integration_id: str
    account_name: str | None
    account_subdomain: str | None
    org_sync: OrgSyncResult | None
    org_sync_error: str | None
    api_requests: int


def connect(p: Pipeline, tenant: str, credentials: HuntressCredentials, base_url: str | None = None) -> ConnectResult:
    """Validate the credentials with GET /v1/account, then store them and sync organizations."""
    p.require_tenant(tenant)
    api_key, api_secret = credentials.api_key.strip(), credentials.api_secret.strip()
    if not api_key or not api_secret:
        raise ConfigurationError("the Huntress API key and secret are both required")
    base_url = (base_url or DEFAULT_BASE_URL).strip().rstrip("/")
    client = p.client_builder(api_key, api_secret, base_url)
    try:
        account = client.get_account()
    except HuntressError as exc:
        client.close()
        raise ActionError(f"could not authenticate with Huntress: {exc}") from None
    p.secrets.set_credentials(tenant, HuntressCredentials(api_key, api_secret))
    existing = p.store.get_integration(tenant)
    settings = existing.settings if existing else HuntressSettings()
    priority_map = settings.severity_priority_map
    if not (priority_map.critical and priority_map.high and priority_map.low):
        prefilled = prefill_severity_priority_map(p.store.routing_options(tenant).priorities)
        priority_map = SeverityPriorityMap(**{**prefilled.as_dict(), **priority_map.as_dict()})
    settings = settings.with_changes(
        account_name=account.name, account_subdomain=account.subdomain, severity_priority_map=priority_map
    )
    integration_id = p.store.save_connection(tenant, base_url, settings)
    org_sync, org_error = None, None
    try:
        org_sync = sync_organizations(p.store, tenant, integration_id, client.list_organizations())
    except HuntressError as exc:  # best effort, as the spec: `orgs sync` retries it
        org_error = str(exc)
        log.warning("initial organization sync for tenant %s failed: %s", tenant, exc)
    finally:
        client.close()
    return ConnectResult(integration_id, account.name, account.subdomain, org_sync, org_error, client.request_count)


def status(p: Pipeline, tenant: str) -> dict[str, Any]:
    p.require_tenant(tenant)
    integration = p.store.get_integration(tenant)
    if integration is None or not integration.is_active:
        return {
            "tenant": tenant, "is_connected": False, "routing_config_complete": False,
            "organization_count": 0, "unmapped_count": 0, "open_alert_count": 0,
        }
    settings = integration.settings
    return {
        "tenant": tenant,
        "is_connected": True,
        "integration_id": integration.integration_id,
        "account_name": settings.account_name,
        "account_subdomain": settings.account_subdomain,
        "sync_status": integration.sync_status,
        "sync_error": integration.sync_error,
        "last_poll_at": format_timestamp(integration.last_incremental_sync_at) if integration.last_incremental_sync_at else None,
        "incident_cursor": settings.incident_cursor,
        "poll_interval_minutes": settings.poll_interval_minutes,
        "backfill_days": settings.backfill_days,
        "routing_config_complete": is_routing_config_complete(settings),
        "routing_missing": missing_routing_fields(settings),
        "credentials_stored": p.secrets.credentials(tenant) is not None,
        **p.store.status_counts(tenant, integration.integration_id),
    }


_UNSET: Any = object()


def configure(
    p: Pipeline,
    tenant: str,
    *,
    board: str | None = _UNSET,
    category: str | None = _UNSET,
    subcategory: str | None = _UNSET,
    fallback_client: str | None = _UNSET,
    fallback_board: str | None = _UNSET,
    priorities: dict[str, str] | None = None,
    auto_close: bool | None = None,
    closed_status: str | None = _UNSET,
    poll_interval: int | None = None,
    backfill_days: int | None = None,
) -> HuntressSettings:
    """Change routing and polling settings; unknown ids are refused; the cursor is never touched."""
    integration = p.require_integration(tenant)
    checks = [("board", board, "board"), ("fallback board", fallback_board, "board"), ("fallback client", fallback_client, "client"),
              ("category", category, "category"), ("subcategory", subcategory, "category"),
              ("closed status", closed_status, "closed_status")]
    checks += [(f"{sev} priority", pid, "priority") for sev, pid in (priorities or {}).items()]
    problems = []
    for label, value, kind in checks:
        if value is not _UNSET and value is not None and p.store.unknown_ids(tenant, kind, [value]):
            problems.append(f"unknown {label} {value}" + (" (must be a closed ticket status)" if kind == "closed_status" else ""))
    for severity in priorities or {}:
        if severity not in ("critical", "high", "low"):
            problems.append(f"unknown severity {severity!r} (use critical, high or low)")
    if poll_interval is not None and not 1 <= poll_interval <= 60:
        problems.append(f"poll interval {poll_interval} is outside 1..60 minutes")
    if backfill_days is not None and not 1 <= backfill_days <= 30:
        problems.append(f"backfill days {backfill_days} is outside 1..30")
    if problems:
        raise ConfigurationError("; ".join(problems))

    def change(current: HuntressSettings) -> HuntressSettings:
        updates: dict[str, Any] = {}
        for attr, value in (("board_id", board), ("category_id", category), ("subcategory_id", subcategory),
                            ("fallback_client_id", fallback_client), ("fallback_board_id", fallback_board),
                            ("closed_status_id", closed_status)):
            if value is not _UNSET:
                updates[attr] = value or None
        if priorities:
            updates["severity_priority_map"] = SeverityPriorityMap(**{**current.severity_priority_map.as_dict(), **priorities})
        if auto_close is not None:
            updates["auto_close_tickets"] = auto_close
        if poll_interval is not None:
            updates["poll_interval_minutes"] = poll_interval
        if backfill_days is not None:
            updates["backfill_days"] = backfill_days
        return current.with_changes(**updates)  # incident_cursor is carried over untouched

    return p.store.update_settings(tenant, integration.integration_id, change)


def routing_options(p: Pipeline, tenant: str) -> RoutingOptions:
    p.require_tenant(tenant)
    return p.store.routing_options(tenant)


def sync_orgs(p: Pipeline, tenant: str) -> tuple[OrgSyncResult, int]:
    integration = p.require_integration(tenant)
    client = p.require_client(integration)
    try:
        organizations = client.list_organizations()
    except HuntressError as exc:
        raise ActionError(f"organization sync failed: {exc}") from None
    finally:
        client.close()
    return sync_organizations(p.store, tenant, integration.integration_id, organizations), client.request_count


def sync_agents(p: Pipeline, tenant: str) -> tuple[int, int]:
    """Refresh the agents snapshot by listing (500 a page); returns (agents, API requests)."""
    integration = p.require_integration(tenant)
    client = p.require_client(integration)
    try:
        count = refresh_agents(p.store, tenant, integration.integration_id, client)
    except HuntressError as exc:
        raise ActionError(f"agent sync failed: {exc}") from None
    finally:
        client.close()
    return count, client.request_count


def list_orgs(p: Pipeline, tenant: str) -> list[MappingRecord]:
    integration = p.require_integration(tenant)
    return p.store.list_mappings(tenant, integration.integration_id)


def map_org(p: Pipeline, tenant: str, org_id: str, *, client_id: str | None = _UNSET, tickets: bool | None = None) -> MappingRecord:
    """Map an organization to a client (or unmap it with client_id=None); turn its tickets on or off."""
    integration = p.require_integration(tenant)
    if client_id not in (_UNSET, None) and p.store.unknown_ids(tenant, "client", [client_id]):
        raise ConfigurationError(f"unknown client {client_id}")
    kwargs: dict[str, Any] = {"auto_create_tickets": tickets}
    if client_id is not _UNSET:
        kwargs["client_id"] = client_id
    record = p.store.update_mapping(tenant, integration.integration_id, str(org_id), **kwargs)
    if record is None:
        raise ConfigurationError(f"organization {org_id} is not known for tenant {tenant}: run `huntress-pipeline orgs sync`")
    return record


def poll(p: Pipeline, tenant: str, *, window_start: datetime | None = None, window_end: datetime | None = None,
         now: datetime | None = None) -> PollResult:
    p.require_integration(tenant)
    return poll_tenant(p.store, tenant, p.client_for, now=now, window_start=window_start, window_end=window_end)


def disconnect(p: Pipeline, tenant: str) -> bool:
    """Deactivate and delete the stored secrets; tickets, alerts and mappings stay. False if not connected."""
    p.require_tenant(tenant)
    integration = p.store.get_integration(tenant)
    p.secrets.delete_credentials(tenant)
    if integration is None:
        return False
    p.store.deactivate(tenant, integration.integration_id)
    return True
