"""Reporting maths over the incident history (pandas, no I/O).

Inputs are the history tables as DataFrames (``psa.history.read_history``):
``versions`` (one row per incident version) and ``actions`` (one row per
action taken on a version); ``clients`` maps Huntress organization ids to the
client each is mapped to now.
"""

from __future__ import annotations

from datetime import date
from typing import Mapping

import pandas as pd

CLOSED = ("closed", "dismissed", "partner_dismissed")
UNMAPPED_CLIENT = "(unmapped)"

SUMMARY_COLUMNS = ["date", "organization", "client", "severity", "status", "opened", "updated", "closed",
                   "tickets_created", "notes_added", "unmapped"]
TTC_COLUMNS = ["incident_id", "severity", "organization", "sent_at", "closed_at", "hours_to_close", "month"]
PERCENTILE_COLUMNS = ["count", "p50_hours", "p90_hours", "max_hours"]
UNMAPPED_COLUMNS = ["organization_id", "organization", "incidents", "tickets", "open_incidents", "first_seen", "last_seen",
                    "mapped_now"]


def _organization(frame: pd.DataFrame) -> pd.Series:
    ids = frame["organization_id"].map(lambda v: f"org {int(v)}" if pd.notna(v) else "(no organization)")
    return frame["organization_name"].where(frame["organization_name"].notna(), ids)


def _in_range(days: pd.Series, since: date | None, until: date | None) -> pd.Series:
    keep = pd.Series(True, index=days.index)
    if since is not None:
        keep &= days >= since
    if until is not None:
        keep &= days <= until
    return keep


def daily_summary(versions: pd.DataFrame, actions: pd.DataFrame, clients: Mapping[int, str], *,
                  since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """Per UTC day, organization/client, severity and status of the version:
    incidents opened (first version seen), updated (later versions), closed (a version
    that moved into a closed status), tickets created, notes added, tickets to the fallback client."""
    if versions.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    v = versions.sort_values(["incident_id", "updated_at"]).copy()
    first = v.groupby("incident_id").cumcount() == 0
    previous = v.groupby("incident_id")["status"].shift()
    v["opened"] = first.astype(int)
    v["updated"] = (~first).astype(int)
    v["closed"] = (v["status"].isin(CLOSED) & (first | ~previous.isin(CLOSED))).astype(int)
    if actions.empty:
        per_version = pd.DataFrame(columns=["incident_id", "version", "tickets_created", "notes_added", "unmapped"])
    else:
        a = actions.assign(
            tickets_created=(actions["action"] == "create_ticket").astype(int),
            notes_added=(actions["action"] == "append_note").astype(int),
            unmapped=((actions["action"] == "create_ticket") & actions["unmapped"].astype(bool)).astype(int),
        )
        per_version = a.groupby(["incident_id", "version"], as_index=False)[["tickets_created", "notes_added", "unmapped"]].max()
    v = v.merge(per_version, how="left", left_on=["incident_id", "updated_at"], right_on=["incident_id", "version"])
    for column in ("tickets_created", "notes_added", "unmapped"):
        v[column] = v[column].fillna(0).astype(int)
    v["date"] = v["updated_at"].dt.date
    v["organization"] = _organization(v)
    v["client"] = v["organization_id"].map(lambda o: clients.get(int(o), UNMAPPED_CLIENT) if pd.notna(o) else UNMAPPED_CLIENT)
    v = v[_in_range(v["date"], since, until)]
    out = (v.groupby(["date", "organization", "client", "severity", "status"], as_index=False)
           [["opened", "updated", "closed", "tickets_created", "notes_added", "unmapped"]].sum())
    return out[SUMMARY_COLUMNS].sort_values(["date", "organization", "severity", "status"]).reset_index(drop=True)


def _latest(versions: pd.DataFrame) -> pd.DataFrame:
    return versions.sort_values(["incident_id", "updated_at"]).groupby("incident_id").tail(1)


def time_to_close(versions: pd.DataFrame, *, since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """Per incident now closed: sent_at -> closed_at in hours (month = the closing month)."""
    if versions.empty:
        return pd.DataFrame(columns=TTC_COLUMNS)
    latest = _latest(versions)
    closed = latest[latest["status"].isin(CLOSED) & latest["sent_at"].notna() & latest["closed_at"].notna()].copy()
    closed["organization"] = _organization(closed)
    closed["hours_to_close"] = ((closed["closed_at"] - closed["sent_at"]).dt.total_seconds() / 3600).round(3)
    closed["month"] = closed["closed_at"].dt.strftime("%Y-%m")
    closed = closed[_in_range(closed["closed_at"].dt.date, since, until)]
    return closed[TTC_COLUMNS].sort_values(["closed_at", "incident_id"]).reset_index(drop=True)


def close_percentiles(ttc: pd.DataFrame, by: str) -> pd.DataFrame:
    """count, p50, p90 and max hours to close per ``by`` (severity or month)."""
    if ttc.empty:
        return pd.DataFrame(columns=[by, *PERCENTILE_COLUMNS])
    grouped = ttc.groupby(by)["hours_to_close"]
    out = pd.DataFrame({
        "count": grouped.count(),
        "p50_hours": grouped.quantile(0.5),
        "p90_hours": grouped.quantile(0.9),
        "max_hours": grouped.max(),
    }).round(3).reset_index()
    return out[[by, *PERCENTILE_COLUMNS]]


def unmapped_incidents(versions: pd.DataFrame, actions: pd.DataFrame, mapped_now: Mapping[int, bool], *,
                       since: date | None = None, until: date | None = None) -> pd.DataFrame:
    """Incidents whose ticket went to the fallback client, by Huntress organization, most first:
    the mappings to fix first."""
    if actions.empty or versions.empty:
        return pd.DataFrame(columns=UNMAPPED_COLUMNS)
    routed = actions[(actions["action"] == "create_ticket") & actions["unmapped"].astype(bool)]
    routed = routed[_in_range(routed["version"].dt.date, since, until)]
    if routed.empty:
        return pd.DataFrame(columns=UNMAPPED_COLUMNS)
    latest = _latest(versions).set_index("incident_id")
    rows = latest.loc[latest.index.intersection(routed["incident_id"].unique())].reset_index()
    rows["organization"] = _organization(rows)
    first_seen = versions.groupby("incident_id")["updated_at"].min()
    rows["first_seen"] = rows["incident_id"].map(first_seen)
    rows["is_open"] = (~rows["status"].isin(CLOSED)).astype(int)
    tickets = routed.groupby("incident_id")["ticket_id"].nunique()
    rows["tickets"] = rows["incident_id"].map(tickets).fillna(0).astype(int)
    out = rows.groupby(["organization_id", "organization"], as_index=False, dropna=False).agg(
        incidents=("incident_id", "nunique"), tickets=("tickets", "sum"), open_incidents=("is_open", "sum"),
        first_seen=("first_seen", "min"), last_seen=("updated_at", "max"),
    )
    out["mapped_now"] = out["organization_id"].map(lambda o: bool(mapped_now.get(int(o), False)) if pd.notna(o) else False)
    out = out.sort_values(["incidents", "last_seen"], ascending=[False, False]).reset_index(drop=True)
    return out[UNMAPPED_COLUMNS]


def incidents_per_day_chart(summary: pd.DataFrame) -> dict:
    """A Vega-Lite spec: incidents seen per day, stacked by severity."""
    data = (summary.groupby(["date", "severity"], as_index=False)[["opened", "updated"]].sum()
            if not summary.empty else pd.DataFrame(columns=["date", "severity", "opened", "updated"]))
    values = [{"date": str(r.date), "severity": r.severity, "incidents": int(r.opened + r.updated)} for r in data.itertuples()]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": "Incident versions seen per day by severity",
        "data": {"values": values},
        "mark": "bar",
        "encoding": {
            "x": {"field": "date", "type": "temporal", "title": "day (UTC)"},
            "y": {"field": "incidents", "type": "quantitative", "aggregate": "sum"},
            "color": {"field": "severity", "type": "nominal",
                      "scale": {"domain": ["critical", "high", "low"], "range": ["#b30000", "#e67300", "#5b8def"]}},
        },
    }
