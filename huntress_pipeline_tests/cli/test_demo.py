"""The README's first command runs the main job on the embedded default."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance

from huntress_pipeline.cli import main
from huntress_pipeline.psa import schema as s


def test_demo_runs_the_pipeline_end_to_end_and_reports_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUNTRESS_PIPELINE_HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["demo", "--ticks", "4"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "connected to 'Demo MSP': 8 organizations, 5 auto-matched" in out
    assert "directory sync: 60 agents in the snapshot, 3 organizations unmapped" in out
    assert "dagster dev -w workspace.yaml" in out
    assert "Hooli, Vandelay Industries, Wayne Enterprises" in out

    home = tmp_path / "demo"
    engine = sa.create_engine(f"sqlite:///{home / 'psa.db'}")
    with engine.connect() as db:
        tickets = db.execute(sa.select(s.tickets.c.is_closed, s.tickets.c.title)).all()
        notes = db.execute(sa.select(sa.func.count()).select_from(s.comments)).scalar_one()
    engine.dispose()
    created = int(out.split("totals: ")[1].split(" tickets created")[0])
    assert created == len(tickets) > 0
    closed = int(out.split("update notes, ")[1].split(" tickets auto-closed")[0])
    assert closed == sum(1 for t in tickets if t.is_closed) == 3  # one close per tick after the first
    assert notes == created + int(out.split("), ")[1].split(" update notes")[0])
    assert any("[Unmapped Org]" in t.title for t in tickets)

    # the runs are in Dagster's local storage under the demo's DAGSTER_HOME, for the web UI
    instance = DagsterInstance.from_config(str(home / "dagster_home"))
    try:
        records = instance.fetch_materializations(AssetKey("psa_tickets"), limit=20).records
        assert len(records) == 4
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
    finally:
        instance.dispose()
