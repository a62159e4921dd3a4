"""Incident history: every version kept once and in order; actions, agents and organizations too;
reports with exact numbers for a scripted simulator run; the reports' CLI formats."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from huntress_pipeline.cli import main
from huntress_pipeline.psa import actions
from huntress_pipeline.psa.history import read_history
from huntress_pipeline.psa.reports import build_report
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore
from huntress_pipeline.simulator import SimClock, SimulatorApi, SimWorld
from huntress_pipeline_tests.fixtures import seed_reference
from huntress_pipeline_tests.sim import in_process_builder

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def scenario(store, tmp_path):
    """A scripted SOC day on a seeded simulator: Acme Corp (mapped by name) and Globex (unmapped).

    09:00 A1 (critical, Acme) and G1 (low, Globex) sent -> poll
    09:05 A1 updated                                    -> poll
    09:10 A1 closed                                     -> poll
    09:15 nothing                                       -> poll
    (next day) 10:00 G1 dismissed, A2 (high, Acme) sent  -> poll
    """
    world = SimWorld(seed=99, organizations=2, agents=4, incidents=0, clock=SimClock(T0))
    api = SimulatorApi(world, rate_limit_per_minute=None)
    pipeline = actions.Pipeline(store, SecretStore(tmp_path / "secrets"), in_process_builder(world, api))
    t = seed_reference(store)
    actions.connect(pipeline, t.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret))
    actions.configure(pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client,
                      fallback_board=t.triage_board, auto_close=True, closed_status=t.status_closed, backfill_days=3)
    acme, globex = 101, 102
    assert (world.organizations[acme]["name"], world.organizations[globex]["name"]) == ("Acme Corp", "Globex")
    results = []

    def poll(now):
        results.append(actions.poll(pipeline, t.tenant, now=now))
        assert results[-1].success, results[-1].error

    a1 = world.new_incident(acme, severity="critical")
    g1 = world.new_incident(globex, severity="low", platform="microsoft_365")
    poll(T0)
    world.clock.advance(minutes=5)
    world.update_incident(a1, summary="Persistence removed.")
    poll(world.clock.now())
    world.clock.advance(minutes=5)
    world.close_incident(a1)
    poll(world.clock.now())
    world.clock.advance(minutes=5)
    poll(world.clock.now())
    world.clock.advance(hours=24, minutes=45)
    world.dismiss_incident(g1)
    a2 = world.new_incident(acme, severity="high")
    poll(world.clock.now())
    return {"pipeline": pipeline, "tenant": t, "world": world, "ids": (a1, g1, a2), "results": results, "store": store}


def test_every_version_is_recorded_once_and_in_order(scenario):
    store, t = scenario["store"], scenario["tenant"]
    a1, g1, a2 = scenario["ids"]
    versions = read_history(store, "incident_versions", t.tenant)
    assert list(versions.groupby("incident_id").size().sort_index().items()) == [(a1, 3), (g1, 2), (a2, 1)]
    a1_rows = versions[versions["incident_id"] == a1]
    assert list(a1_rows["status"]) == ["sent", "sent", "closed"]
    assert list(a1_rows["updated_at"]) == [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=10)]
    assert a1_rows["updated_at"].is_monotonic_increasing
    assert set(a1_rows["organization_name"]) == {"Acme Corp"} and a1_rows["hostname"].notna().all()
    assert set(versions["first_seen_partition"]) == {"cli:poll"}
    assert versions.loc[versions["incident_id"] == g1, "agent_id"].isna().all()
    assert isinstance(a1_rows["indicator_counts"].iloc[0], dict)
    # the quiet 09:15 poll re-read A1's last version inside the overlap and added nothing
    assert len(versions) == 6


def test_every_action_is_recorded(scenario):
    store, t = scenario["store"], scenario["tenant"]
    a1, g1, a2 = scenario["ids"]
    acts = read_history(store, "incident_actions", t.tenant)
    kinds = lambda i: list(acts.loc[acts["incident_id"] == i, "action"])  # noqa: E731
    assert kinds(a1) == ["create_ticket", "append_note", "append_note"]
    assert kinds(g1) == ["create_ticket", "append_note"]
    assert kinds(a2) == ["create_ticket"]
    created = acts[acts["action"] == "create_ticket"].set_index("incident_id")
    assert bool(created.loc[g1, "unmapped"]) is True and bool(created.loc[a1, "unmapped"]) is False
    assert created.loc[a1, "client_id"] == t.client and created.loc[g1, "client_id"] == t.fallback_client
    closing = acts[(acts["incident_id"] == a1) & (acts["action"] == "append_note")]
    assert list(closing["closed_ticket"]) == [False, True]
    assert (acts["action"] == "skip").sum() == 0  # re-reads did nothing and are not actions


def test_reports_have_the_scenarios_exact_numbers(scenario):
    store, t = scenario["store"], scenario["tenant"]
    summary = build_report(store, t.tenant, "summary").table
    day1 = summary[summary["date"] == date(2026, 11, 30)]
    acme = day1[day1["organization"] == "Acme Corp"].set_index("status")
    assert acme.loc["sent", ["opened", "updated", "closed", "tickets_created", "notes_added", "unmapped"]].tolist() == [1, 1, 0, 1, 1, 0]
    assert acme.loc["closed", ["opened", "updated", "closed", "tickets_created", "notes_added"]].tolist() == [0, 1, 1, 0, 1]
    assert set(acme["client"]) == {"Acme Corp"} and set(acme["severity"]) == {"critical"}
    globex = day1[day1["organization"] == "Globex"].iloc[0]
    assert (globex["client"], globex["opened"], globex["tickets_created"], globex["unmapped"]) == ("(unmapped)", 1, 1, 1)
    day2 = summary[summary["date"] == date(2026, 12, 1)]
    assert sorted(zip(day2["organization"], day2["status"], day2["opened"], day2["closed"])) == [
        ("Acme Corp", "sent", 1, 0), ("Globex", "dismissed", 0, 1)]
    assert summary[["opened", "updated", "closed", "tickets_created", "notes_added", "unmapped"]].sum().tolist() == [3, 3, 2, 3, 3, 1]

    ttc = build_report(store, t.tenant, "time-to-close")
    assert dict(zip(ttc.table["incident_id"], ttc.table["hours_to_close"])) == {scenario["ids"][0]: round(10 / 60, 3), scenario["ids"][1]: 25.0}
    by_severity = ttc.extra["by_severity"].set_index("severity")
    assert by_severity.loc["critical", "p50_hours"] == round(10 / 60, 3) and by_severity.loc["low", "max_hours"] == 25.0
    assert ttc.extra["by_month"]["month"].tolist() == ["2026-11", "2026-12"]

    unmapped = build_report(store, t.tenant, "unmapped").table
    assert unmapped[["organization", "incidents", "tickets", "open_incidents", "mapped_now"]].values.tolist() == [["Globex", 1, 1, 0, False]]

    # date ranges: only the second day
    only_day2 = build_report(store, t.tenant, "summary", since=date(2026, 12, 1)).table
    assert set(only_day2["date"]) == {date(2026, 12, 1)}


def test_agent_and_organization_snapshots_keep_a_row_per_changed_version(scenario):
    pipeline, t, world, store = scenario["pipeline"], scenario["tenant"], scenario["world"], scenario["store"]
    actions.sync_agents(pipeline, t.tenant)
    before = read_history(store, "agent_versions", t.tenant)
    assert before.groupby("agent_id").size().max() == 1 and len(before) == 4
    actions.sync_agents(pipeline, t.tenant)
    assert len(read_history(store, "agent_versions", t.tenant)) == 4  # unchanged: nothing added
    world.agents[5001]["hostname"] = "ACME-WS-RENAMED"
    actions.sync_agents(pipeline, t.tenant)
    agents = read_history(store, "agent_versions", t.tenant)
    assert list(agents.loc[agents["agent_id"] == 5001, "hostname"])[-1] == "ACME-WS-RENAMED"
    assert len(agents) == 5

    orgs = read_history(store, "organization_versions", t.tenant)
    assert sorted(orgs["name"]) == ["Acme Corp", "Globex"]
    world.rename_organization(102, "Globex Corporation")
    actions.sync_orgs(pipeline, t.tenant)
    actions.sync_orgs(pipeline, t.tenant)
    orgs = read_history(store, "organization_versions", t.tenant)
    assert list(orgs.loc[orgs["organization_id"] == 102, "name"]) == ["Globex", "Globex Corporation"]


def test_read_history_is_one_pandas_call_and_refuses_unknown_tables(scenario):
    url = scenario["store"].engine.url.render_as_string(hide_password=False)
    frame = read_history(url, "incident_versions", scenario["tenant"].tenant, since=T0 + timedelta(minutes=1))
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4
    assert str(frame["updated_at"].dt.tz) == "UTC"
    with pytest.raises(ValueError, match="unknown history table"):
        read_history(scenario["store"], "tickets")


def test_report_cli_formats(scenario, monkeypatch):
    store, t = scenario["store"], scenario["tenant"]
    monkeypatch.setenv("HUNTRESS_PIPELINE_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    run = lambda *a: CliRunner().invoke(main, ["report", *a, "--tenant", t.tenant], catch_exceptions=False)  # noqa: E731
    csv = run("unmapped", "--format", "csv")
    assert csv.exit_code == 0
    lines = csv.output.strip().splitlines()
    assert lines[0] == "organization_id,organization,incidents,tickets,open_incidents,first_seen,last_seen,mapped_now"
    assert lines[1].startswith("102,Globex,1,1,0,")
    data = json.loads(run("time-to-close", "--format", "json").output)
    assert [r["hours_to_close"] for r in data["rows"]] == [round(10 / 60, 3), 25.0]
    assert {r["severity"] for r in data["by_severity"]} == {"critical", "low"}
    table = run("summary", "--since", "2026-12-01", "--until", "2026-12-01")
    assert "2026-12-01" in table.output and "2026-11-30" not in table.output
    empty = run("summary", "--since", "2027-01-01")
    assert "no summary rows" in empty.output
    bad = CliRunner().invoke(main, ["report", "summary", "--tenant", t.tenant, "--since", "2026-12-02", "--until", "2026-12-01"])
    assert bad.exit_code == 2
