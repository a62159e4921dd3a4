"""The repo's dagster.yaml: runs, events and schedules in PostgreSQL; one run per tenant."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
import yaml
from dagster import DagsterInstance

REPO = Path(__file__).resolve().parents[2]


def test_dagster_yaml_limits_runs_to_one_per_tenant():
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    (limit,) = coordinator["config"]["tag_concurrency_limits"]
    assert limit == {"key": "huntress/tenant", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def test_dagster_yaml_stores_runs_events_and_schedules_in_postgresql(postgres_url, tmp_path, monkeypatch):
    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")
    dagster_url = sa.engine.make_url(postgres_url).set(drivername="postgresql").render_as_string(hide_password=False)
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_url)
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        instance.add_dynamic_partitions("tenants", ["tenant-a"])
        assert instance.get_dynamic_partitions("tenants") == ["tenant-a"]
    finally:
        instance.dispose()
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"runs", "event_logs", "jobs", "dynamic_partitions"} <= tables
