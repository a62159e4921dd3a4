"""Partitions: tenants (dynamic, key = tenant id) x UTC day.

A backfill is "these days for this tenant" in the UI's partition picker.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta, timezone

from dagster import DailyPartitionsDefinition, DynamicPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition

#: First day offered for backfills (Huntress keeps months of incidents; the picker starts here).
PARTITIONS_START = os.environ.get("HUNTRESS_PIPELINE_PARTITIONS_START", "2026-01-01")
TENANT_TAG = "huntress/tenant"

tenant_partitions = DynamicPartitionsDefinition(name="tenants")
daily_partitions = DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1, timezone="UTC")
tenant_day_partitions = MultiPartitionsDefinition({"date": daily_partitions, "tenants": tenant_partitions})


def tenant_day_key(tenant: str, day: str) -> MultiPartitionKey:
    return MultiPartitionKey({"date": day, "tenants": tenant})


def split_tenant_day(partition_key: str | MultiPartitionKey) -> tuple[str, str]:
    keys = partition_key.keys_by_dimension if isinstance(partition_key, MultiPartitionKey) else \
        tenant_day_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return keys["tenants"], keys["date"]


def today_utc(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%d")


def day_window(day: str) -> tuple[datetime, datetime]:
    start = datetime.combine(datetime.strptime(day, "%Y-%m-%d").date(), time(), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)
