"""The web UI: dagster-webserver loads the code location and shows assets, schedules,
sensors and checks; a run launched through it for a partition succeeds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from dagster import AssetKey, DagsterInstance

from huntress_pipeline.orchestration.partitions import tenant_day_key, today_utc
from huntress_pipeline.psa import actions
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore
from huntress_pipeline.psa.store import PsaStore
from huntress_pipeline.simulator import SimClock, SimulatorApi, SimWorld, running_server
from huntress_pipeline_tests.fixtures import rows, seed_reference

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    response.raise_for_status()
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def webserver(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster.core.run_coordinator\n  class: DefaultRunCoordinator\ntelemetry:\n  enabled: false\n"
    )
    url = f"sqlite:///{tmp_path / 'psa.db'}"
    port = free_port()
    env = {
        **os.environ, "DAGSTER_HOME": str(home), "HUNTRESS_PIPELINE_DATABASE_URL": url,
        "HUNTRESS_PIPELINE_HOME": str(tmp_path / "pipeline_home"), "HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL": "0",
    }
    log = open(tmp_path / "webserver.log", "w")
    proc = subprocess.Popen([str(BIN / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
            try:
                if httpx.get(f"{base}/server_info", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "dagster-webserver did not answer within 180 s"
            time.sleep(1)
        yield base, home, url, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_webserver_shows_the_definitions_and_runs_a_partition(webserver):
    base, home, url, tmp_path = webserver
    info = httpx.get(f"{base}/server_info", timeout=10).json()
    assert "dagster_webserver_version" in info

    data = graphql(base, """
      { assetNodes { assetKey { path } groupName isPartitioned
                     assetChecksOrError { ... on AssetChecks { checks { name } } } }
        repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
          schedules { name cronSchedule } sensors { name } } } } }""")
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    assert set(nodes) == {"huntress_organizations", "huntress_agents", "huntress_incidents", "incident_plans", "psa_tickets",
                          "incident_daily_summary", "incident_time_to_close", "unmapped_incidents"}
    assert all(n["isPartitioned"] for n in nodes.values())
    assert {n["groupName"] for n in nodes.values()} == {"huntress", "huntress_reporting"}
    checks = {c["name"] for c in nodes["huntress_organizations"]["assetChecksOrError"]["checks"]}
    assert checks == {"routing_config_complete", "no_unmapped_organizations", "poll_freshness"}
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {s["name"]: s["cronSchedule"] for s in repo["schedules"]} == {
        "huntress_incident_poll": "*/5 * * * *", "huntress_directory_sync": "0 * * * *"}
    assert {s["name"] for s in repo["sensors"]} == {"huntress_tenant_sensor", "huntress_routing_config_sensor", "huntress_reports_sensor"}

    # a connected tenant with routing, a simulator with incidents, the tenant partition added
    world = SimWorld(seed=41, organizations=3, agents=6, incidents=5, clock=SimClock(datetime.now(timezone.utc).replace(microsecond=0)))
    store = PsaStore.from_url(url)
    store.init_schema()
    with running_server(SimulatorApi(world, rate_limit_per_minute=None)) as sim:
        pipeline = actions.Pipeline(store, SecretStore(tmp_path / "pipeline_home" / "secrets"))
        t = seed_reference(store)
        actions.connect(pipeline, t.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret), sim)
        actions.configure(pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client, fallback_board=t.triage_board)
        instance = DagsterInstance.from_config(str(home))
        instance.add_dynamic_partitions("tenants", [t.tenant])

        key = tenant_day_key(t.tenant, today_utc())
        launched = graphql(base, """
          mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
            __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
            {"params": {
                "selector": {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"],
                             "jobName": "huntress_incident_job"},
                "executionMetadata": {"tags": [
                    {"key": "dagster/partition", "value": str(key)},
                    {"key": "dagster/partition/date", "value": today_utc()},
                    {"key": "dagster/partition/tenants", "value": t.tenant},
                ]},
            }})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        deadline = time.monotonic() + 240
        while True:
            status = graphql(base, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            assert time.monotonic() < deadline, f"run still {status}"
            time.sleep(1)
        assert status == "SUCCESS", instance.all_logs(run_id)[-5:]
    open_incidents = [i for i in world.incidents.values() if i["status"] in ("sent", "auto_remediating")]
    assert len(rows(store, "tickets", t.tenant)) == len(open_incidents)
    records = instance.fetch_materializations(AssetKey("psa_tickets"), limit=1).records
    assert records and records[0].partition_key == str(key)
    store.dispose()
