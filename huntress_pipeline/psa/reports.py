"""Reports for analytics teams, computed from the incident history (used by the CLI and the assets)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from ..core import reporting
from .history import read_history
from .store import PsaStore

REPORTS = ("summary", "time-to-close", "unmapped")


@dataclass
class Report:
    kind: str
    table: pd.DataFrame
    #: Extra tables (time-to-close: percentiles by severity and by month).
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)


def build_report(store: PsaStore, tenant: str, kind: str, *, since: date | None = None, until: date | None = None) -> Report:
    if kind not in REPORTS:
        raise ValueError(f"unknown report {kind!r}: one of {', '.join(REPORTS)}")
    versions = read_history(store, "incident_versions", tenant)
    integration = store.get_integration(tenant)
    mappings = store.list_mappings(tenant, integration.integration_id) if integration else []
    if kind == "time-to-close":
        ttc = reporting.time_to_close(versions, since=since, until=until)
        return Report(kind, ttc, {"by_severity": reporting.close_percentiles(ttc, "severity"),
                                  "by_month": reporting.close_percentiles(ttc, "month")})
    actions = read_history(store, "incident_actions", tenant)
    if kind == "summary":
        clients = {int(m.external_organization_id): m.client_name or m.client_id for m in mappings
                   if m.client_id and m.external_organization_id.isdigit()}
        return Report(kind, reporting.daily_summary(versions, actions, clients, since=since, until=until))
    mapped = {int(m.external_organization_id): m.client_id is not None for m in mappings if m.external_organization_id.isdigit()}
    return Report(kind, reporting.unmapped_incidents(versions, actions, mapped, since=since, until=until))
