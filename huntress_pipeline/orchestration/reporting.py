"""Reporting assets (per tenant, pandas), refreshed by huntress_reports_sensor after incident runs.

Each shows its latest table in the UI (markdown + row count) and, where people
would rather look than read, a Vega-Lite chart in its metadata.
"""

import pandas as pd
from dagster import AssetDep, AssetExecutionContext, MetadataValue, MultiToSingleDimensionPartitionMapping, Output, asset

from ..core.reporting import incidents_per_day_chart
from ..psa.reports import build_report
from .metadata import markdown_table
from .partitions import tenant_partitions
from .resources import PsaDatabase

GROUP = "huntress_reporting"
AFTER_TICKETS = [AssetDep("psa_tickets", partition_mapping=MultiToSingleDimensionPartitionMapping(partition_dimension_name="tenants"))]


@asset(partitions_def=tenant_partitions, group_name=GROUP, deps=AFTER_TICKETS, kinds={"pandas"},
       description="Per day, organization/client, severity and status: incidents opened, updated, closed; tickets created; notes added; unmapped.")
def incident_daily_summary(context: AssetExecutionContext, psa: PsaDatabase) -> Output[pd.DataFrame]:
    table = build_report(psa.store, context.partition_key, "summary").table
    return Output(table, metadata={
        "rows": len(table),
        "table": MetadataValue.md(markdown_table(table)),
        "incidents_per_day_by_severity": MetadataValue.json(incidents_per_day_chart(table)),
        "totals": MetadataValue.json({c: int(table[c].sum()) for c in ("opened", "updated", "closed", "tickets_created",
                                                                      "notes_added", "unmapped")} if not table.empty else {}),
    })


@asset(partitions_def=tenant_partitions, group_name=GROUP, deps=AFTER_TICKETS, kinds={"pandas"},
       description="Per closed incident, sent_at -> closed_at in hours, with percentiles per severity and per month.")
def incident_time_to_close(context: AssetExecutionContext, psa: PsaDatabase) -> Output[pd.DataFrame]:
    report = build_report(psa.store, context.partition_key, "time-to-close")
    return Output(report.table, metadata={
        "rows": len(report.table),
        "by_severity": MetadataValue.md(markdown_table(report.extra["by_severity"])),
        "by_month": MetadataValue.md(markdown_table(report.extra["by_month"])),
        "table": MetadataValue.md(markdown_table(report.table)),
    })


@asset(partitions_def=tenant_partitions, group_name=GROUP, deps=AFTER_TICKETS, kinds={"pandas"},
       description="Incidents routed to the fallback client, by Huntress organization: which mappings to fix first.")
def unmapped_incidents(context: AssetExecutionContext, psa: PsaDatabase) -> Output[pd.DataFrame]:
    table = build_report(psa.store, context.partition_key, "unmapped").table
    return Output(table, metadata={
        "rows": len(table),
        "table": MetadataValue.md(markdown_table(table)),
        "still_unmapped": int((~table["mapped_now"].astype(bool)).sum()) if not table.empty else 0,
    })


REPORT_ASSETS = [incident_daily_summary, incident_time_to_close, unmapped_incidents]
