"""The command line end to end against the simulator over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from huntress_pipeline.cli import main
from huntress_pipeline.simulator import SimulatorApi, SimWorld, running_server
from huntress_pipeline_tests.fixtures import rows, seed_reference


@pytest.fixture
def world():
    from huntress_pipeline.simulator import SimClock

    return SimWorld(seed=21, organizations=5, agents=15, incidents=12, clock=SimClock(datetime.now(timezone.utc).replace(microsecond=0)))


@pytest.fixture
def sim_url(world):
    with running_server(SimulatorApi(world, rate_limit_per_minute=None)) as url:
        yield url


@pytest.fixture
def cli(store, tmp_path, world, monkeypatch):
    monkeypatch.setenv("HUNTRESS_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HUNTRESS_PIPELINE_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("HUNTRESS_API_KEY", world.credentials.api_key)
    monkeypatch.setenv("HUNTRESS_API_SECRET", world.credentials.api_secret)
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == code, (args, result.output, result.stderr)
        return result

    return run


def test_connect_configure_poll_change_poll(cli, store, world, sim_url, tmp_path):
    t = seed_reference(store)
    out = cli("connect", "--tenant", t.tenant, "--base-url", sim_url).output
    assert "connected to Huntress account 'Demo MSP'" in out and "organizations: 5" in out
    status = json.loads(cli("status", "--tenant", t.tenant, "--json").output)
    assert status["routing_config_complete"] is False and status["routing_missing"] == ["board", "fallback client", "fallback board"]

    assert "poll skipped: routing_config_incomplete" in cli("poll", "--tenant", t.tenant).output
    options = json.loads(cli("routing-options", "--tenant", t.tenant, "--json").output)
    assert {b["board_name"] for b in options["boards"]} == {"Security", "Security Triage"}
    assert [s["status_name"] for s in options["closed_statuses"]] == ["Closed"]
    out = cli("configure", "--tenant", t.tenant, "--board", t.security_board, "--fallback-client", t.fallback_client,
              "--fallback-board", t.triage_board, "--auto-close", "--closed-status", t.status_closed,
              "--priority", f"critical={t.p_crit}").output
    assert "routing complete" in out

    first = json.loads(cli("poll", "--tenant", t.tenant, "--json").output)
    assert first["success"] is True and first["seen"] == 12
    created = first["counts"]["create_ticket"]
    open_incidents = [i for i in world.incidents.values() if i["status"] in ("sent", "auto_remediating")]
    assert created == len(open_incidents)
    assert first["counts"]["record_only"] == 12 - created
    assert len(rows(store, "tickets", t.tenant)) == created

    # the SOC works: one incident updated, one closed, one new on a brand-new organization
    world.clock.advance(minutes=5)
    updated, closed = open_incidents[0]["id"], open_incidents[1]["id"]
    world.update_incident(updated, summary="Lateral movement attempt blocked.")
    world.close_incident(closed)
    new_org = world.new_organization("Freshly Onboarded LLC")
    world.new_incident(new_org, platform="microsoft_365")

    second = json.loads(cli("poll", "--tenant", t.tenant, "--json").output)
    assert second["counts"] == {"create_ticket": 1, "append_note": 2, "record_only": 0, "skip": second["counts"]["skip"]}
    assert second["unmapped_tickets"] == 1
    assert second["api_requests"] == 2  # the incident page + the new organization's name
    tickets = {tk["attributes"]["source_reference"]: tk for tk in rows(store, "tickets", t.tenant)}
    assert tickets[str(closed)]["is_closed"] is True and tickets[str(closed)]["status_id"] == t.status_closed
    assert tickets[str(updated)]["is_closed"] is False
    notes = rows(store, "comments", t.tenant, ticket_id=tickets[str(closed)]["ticket_id"])
    assert any("sent \u2192 closed" in n["note"] or "auto_remediating \u2192 closed" in n["note"] for n in notes)
    unmapped = [tk for tk in tickets.values() if "[Unmapped Org]" in tk["title"]]
    assert unmapped and all(tk["client_id"] == t.fallback_client for tk in unmapped)

    listing = json.loads(cli("orgs", "list", "--tenant", t.tenant, "--json").output)
    fresh = next(o for o in listing if o["organization_id"] == str(new_org))
    assert fresh["organization_name"] == "Freshly Onboarded LLC" and fresh["client_id"] is None
    out = cli("orgs", "map", "--tenant", t.tenant, new_org, "--client", t.client).output
    assert "Acme Corp" in out
    out = cli("orgs", "map", "--tenant", t.tenant, new_org, "--no-tickets").output
    assert "tickets off" in out
    assert "disconnected" in cli("disconnect", "--tenant", t.tenant).output
    assert not (tmp_path / "home" / "secrets" / t.tenant).exists()


def test_usage_and_configuration_errors_exit_2_with_one_line(cli, store, sim_url):
    t = seed_reference(store)
    result = cli("status", "--tenant", "00000000-0000-0000-0000-000000000000", code=2)
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
    assert "not connected" in cli("poll", "--tenant", t.tenant, code=2).stderr
    cli("connect", "--tenant", t.tenant, "--base-url", sim_url)
    assert "unknown board nope" in cli("configure", "--tenant", t.tenant, "--board", "nope", code=2).stderr
    cli("configure", "--tenant", t.tenant, "--poll-interval", "0", code=2)
    cli("configure", "--tenant", t.tenant, "--priority", "medium=x", code=2)
    assert "not known" in cli("orgs", "map", "--tenant", t.tenant, "999999", "--unmap", code=2).stderr
    cli("orgs", "map", "--tenant", t.tenant, "101", code=2)


def test_wrong_credentials_exit_1_and_the_secret_never_shows(cli, store, sim_url, monkeypatch):
    t = seed_reference(store)
    monkeypatch.setenv("HUNTRESS_API_SECRET", "very-secret-value")
    result = cli("connect", "--tenant", t.tenant, "--base-url", sim_url, code=1)
    assert "could not authenticate" in result.stderr and "HTTP 401" in result.stderr
    assert "very-secret-value" not in result.output + result.stderr


def test_db_init_is_idempotent(cli):
    first = cli("db", "init").output
    assert "huntress_* tables at the latest migration" in first
    assert "created 0 Alga tables (all existed)" in cli("db", "init").output


def test_the_installed_command_reports_a_missing_schema_with_exit_2(tmp_path):
    env = {**os.environ, "HUNTRESS_PIPELINE_HOME": str(tmp_path), "HUNTRESS_PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path}/empty.db"}
    proc = subprocess.run([sys.executable, "-m", "huntress_pipeline.cli", "status", "--tenant", "x"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "run `huntress-pipeline db init` first" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_unreachable_database_is_a_configuration_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HUNTRESS_PIPELINE_HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["--database-url", "postgresql+psycopg2://nobody@127.0.0.1:1/none", "db", "init"])
    assert result.exit_code == 2 and "cannot use the PSA database" in result.stderr


def test_a_bad_database_url_is_refused_without_echoing_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HUNTRESS_PIPELINE_HOME", str(tmp_path))
    result = CliRunner().invoke(main, ["--database-url", "notadialect://admin:hunter2@db/alga", "db", "init"])
    assert result.exit_code == 2 and "bad database URL" in result.stderr
    assert "hunter2" not in result.stderr + result.output
