"""Throughput and API budget, measured side by side (issue 6).

    .venv/bin/python benchmarks/run.py [--postgres-url URL] [--quick]

Runs each scenario against the simulator (in-process, on a virtual clock: the
60/min rate limit is accounted, not slept; or over HTTP where process
boundaries matter) and PostgreSQL (a fresh database, dropped afterwards),
prints a table of figures and ratios and writes it to benchmarks/results/latest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from huntress_pipeline.core.models import Agent, IncidentReport  # noqa: E402
from huntress_pipeline.demo import FALLBACK_CLIENT, seed_demo_tenant  # noqa: E402
from huntress_pipeline.huntress.client import HuntressClient  # noqa: E402
from huntress_pipeline.psa import actions  # noqa: E402
from huntress_pipeline.psa.processor import process_walk  # noqa: E402
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore  # noqa: E402
from huntress_pipeline.psa.store import PsaStore  # noqa: E402
from huntress_pipeline.simulator import SimClock, SimulatorApi, SimulatorTransport, SimWorld  # noqa: E402
from spec_processor import process_one_at_a_time  # noqa: E402

DEFAULT_PG = os.environ.get("HUNTRESS_PIPELINE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_postgres(base_url: str):
    name = f"huntress_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def virtual_builder(world: SimWorld, api: SimulatorApi, interval: float = 1.1):
    """Clients with the production spacing (1.1 s) on the world's virtual clock."""

    def build(key, secret, base_url):
        return HuntressClient(key, secret, base_url="http://simulator.invalid", transport=SimulatorTransport(api, sleep=world.clock.sleep),
                              clock=world.clock.monotonic, sleep=world.clock.sleep, min_request_interval=interval)

    return build


def connected_tenant(store: PsaStore, pipeline: actions.Pipeline, world: SimWorld, base_url: str | None = None):
    tenant = seed_demo_tenant(store)
    result = actions.connect(pipeline, tenant.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret), base_url)
    actions.configure(pipeline, tenant.tenant, board=tenant.boards["Security"], fallback_client=tenant.clients[FALLBACK_CLIENT],
                      fallback_board=tenant.boards["Security Triage"], auto_close=True, closed_status=tenant.statuses["Closed"])
    return tenant, result


# -- 1. API budget -------------------------------------------------------------------------
def api_budget(pg_url: str, incidents: int, organizations: int, agents: int, tmp: Path) -> dict:
    start = datetime.now(timezone.utc).replace(microsecond=0)
    world = SimWorld(seed=1, organizations=organizations, agents=agents, incidents=incidents, history_days=6, clock=SimClock(start))
    api = SimulatorApi(world)  # the real 60/min window, on the virtual clock
    store = PsaStore.from_url(pg_url)
    store.init_schema()
    pipeline = actions.Pipeline(store, SecretStore(tmp / "secrets-api"), virtual_builder(world, api))
    t0 = world.clock.monotonic()
    tenant, connected = connected_tenant(store, pipeline, world)
    wall = time.perf_counter()
    first = actions.poll(pipeline, tenant.tenant, now=world.clock.now())
    wall = time.perf_counter() - wall
    virtual = world.clock.monotonic() - t0
    ours = connected.api_requests + first.api_requests
    creates_with_agent = sum(1 for o in first.outcomes if o.kind == "create_ticket" and world.incidents[o.incident_id]["agent_id"])
    pages = math.ceil(len(world.incidents) / 500)
    spec = connected.api_requests + pages + creates_with_agent  # the plan: one GET /v1/agents/{id} per new ticket
    idle = actions.poll(pipeline, tenant.tenant, now=world.clock.now())
    world.clock.advance(minutes=5)
    open_ids = [i for i, inc in world.incidents.items() if inc["status"] == "sent"][:600]
    for incident_id in open_ids:
        world.update_incident(incident_id, summary="changed")
    changed = actions.poll(pipeline, tenant.tenant, now=world.clock.now())
    store.dispose()
    return {
        "incidents": len(world.incidents), "organizations": organizations, "agents": agents,
        "first_backfill_requests": ours, "first_backfill_requests_spec_design": spec,
        "first_backfill_minutes_at_60_per_min": round(ours / 60, 2), "spec_design_minutes_at_60_per_min": round(spec / 60, 1),
        "first_backfill_virtual_seconds": round(virtual, 1), "first_backfill_processing_seconds": round(wall, 2),
        "tickets_created": first.counts["create_ticket"], "status_429": api.status_counts[429],
        "idle_poll_requests": idle.api_requests, "changed_incidents": len(open_ids), "changed_poll_requests": changed.api_requests,
        "changed_poll_expected": math.ceil(len(open_ids) / 500),
    }


# -- 2. Database throughput ------------------------------------------------------------------
class SnapshotDirectory:
    """Agents from memory: the DB measurement must not include API time."""

    def __init__(self, agents):
        self._agents = agents

    def agents(self, ids):
        return {i: self._agents[i] for i in ids if i in self._agents}

    def organization_names(self, ids):
        return {o: f"Huntress org {o}" for o in ids}


def throughput(url: str, incidents: int, baseline: int, tmp: Path) -> dict:
    world = SimWorld(seed=2, organizations=100, agents=2000, incidents=incidents, history_days=6)
    for inc in world.incidents.values():  # all open: every incident makes a ticket, thread, note and alert
        inc.update(status="sent", closed_at=None)
    records = sorted((IncidentReport.from_api(i) for i in world.incidents.values()), key=lambda i: (i.updated, i.id))
    agents = {a["id"]: Agent.from_api(a) for a in world.agents.values()}
    store = PsaStore.from_url(url)
    store.init_schema()
    api = SimulatorApi(world, rate_limit_per_minute=None)
    pipeline = actions.Pipeline(store, SecretStore(tmp / f"secrets-{uuid.uuid4().hex[:6]}"), virtual_builder(world, api, 0))

    def timed(fn):
        started = time.perf_counter()
        value = fn()
        return value, time.perf_counter() - started

    tenant, _ = connected_tenant(store, pipeline, world)
    integration = store.get_integration(tenant.tenant)
    new, new_s = timed(lambda: process_walk(store, integration, records, SnapshotDirectory(agents)))
    assert new.counts()["create_ticket"] == len(records), new.error
    same, same_s = timed(lambda: process_walk(store, integration, records, SnapshotDirectory(agents)))
    assert same.counts()["skip"] == len(records)

    base_tenant, _ = connected_tenant(store, pipeline, world)
    base_integration = store.get_integration(base_tenant.tenant)
    subset = records[:baseline]
    _, base_s = timed(lambda: process_one_at_a_time(store, base_integration, subset, agents))
    _, base_skip_s = timed(lambda: process_one_at_a_time(store, base_integration, subset, agents))
    ours_subset_tenant, _ = connected_tenant(store, pipeline, world)
    ours_subset, ours_subset_s = timed(lambda: process_walk(store, store.get_integration(ours_subset_tenant.tenant), subset,
                                                            SnapshotDirectory(agents)))
    store.dispose()
    return {
        "backend": store.dialect, "incidents": len(records),
        "new_per_second": round(len(records) / new_s), "unchanged_per_second": round(len(records) / same_s),
        "baseline_incidents": len(subset),
        "spec_one_at_a_time_new_per_second": round(len(subset) / base_s),
        "spec_one_at_a_time_unchanged_per_second": round(len(subset) / base_skip_s),
        "batch_new_per_second_same_batch": round(len(subset) / ours_subset_s),
        "ratio_new": round((len(subset) / ours_subset_s) / (len(subset) / base_s), 1),
        "ratio_unchanged": round((len(records) / same_s) / (len(subset) / base_skip_s), 1),
    }


# -- 3. Memory of a walk ---------------------------------------------------------------------
WALKER = r"""
import json, resource, sys, time, tracemalloc
from datetime import datetime, timezone, timedelta
import tempfile
from pathlib import Path
from huntress_pipeline.core.cursor import CursorWalkPage, collect_incidents_since, in_chunks
from huntress_pipeline.huntress.client import HuntressClient
from huntress_pipeline.huntress.spool import SpoolSink
base_url, mode = sys.argv[1], sys.argv[2]
def hwm_mb():  # this process's own peak RSS (ru_maxrss would include the parent's, inherited through fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
rss_before = hwm_mb()
client = HuntressClient("sim-api-key", "sim-api-secret", base_url=base_url, min_request_interval=0, requests_per_minute=None)
tracemalloc.start()
def fetch(token):
    page = client.list_incident_reports_page(page_token=token)
    return CursorWalkPage(page.incidents, page.next_page_token)
spool = tempfile.mkdtemp()
walk = collect_incidents_since(fetch, cursor_iso=None, backfill_days=30, now=datetime.now(timezone.utc) + timedelta(days=1),
                               sink=SpoolSink(Path(spool)) if mode == "spool" else None)
rounds = sum(1 for _ in in_chunks(walk.incidents, 500))  # what processing does: a page-sized round at a time
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({"mode": mode, "incidents": len(walk.incidents), "pages": walk.pages_fetched, "rounds": rounds,
                  "traced_peak_mb": round(peak / 2**20, 1),
                  "traced_held_mb": round(current / 2**20, 1),
                  "rss_peak_mb": hwm_mb(), "rss_after_imports_mb": rss_before}))
"""


def memory(incident_counts: list[int]) -> list[dict]:
    out = []
    for count, mode in [(c, m) for m in ("spool", "memory") for c in incident_counts]:
        port = _free_port()
        sim = subprocess.Popen([sys.executable, "-m", "huntress_pipeline.cli", "simulate", "--port", str(port), "--incidents", str(count),
                                "--organizations", "100", "--agents", "2000", "--rate-limit", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            sim.stdout.readline()  # "simulated Huntress API on ..."
            walk = subprocess.run([sys.executable, "-c", WALKER, f"http://127.0.0.1:{port}", mode], capture_output=True, text=True,
                                  timeout=600)
            assert walk.returncode == 0, walk.stderr
            data = json.loads(walk.stdout)
        finally:
            sim.terminate()
            sim.wait(timeout=30)
        world = SimWorld(seed=1, organizations=100, agents=2000, incidents=min(count, 500))
        page = SimulatorApi(world, rate_limit_per_minute=None).handle(
            "GET", "/v1/incident_reports", "limit=500&sort_field=updated_at&sort_direction=desc",
            {"Authorization": "Basic " + __import__("base64").b64encode(b"sim-api-key:sim-api-secret").decode()})
        data["raw_page_kb"] = round(len(page.body) / 1024, 1)
        out.append(data)
    return out


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- 4. Dagster run cost for idle tenants ------------------------------------------------------
def dagster_idle(pg_url: str, tenant_counts: list[int], tmp: Path) -> dict:
    from dagster import instance_for_test

    from huntress_pipeline.definitions import build_definitions
    from huntress_pipeline.orchestration.partitions import tenant_day_key, today_utc
    from huntress_pipeline.orchestration.resources import HuntressClientFactory, PsaDatabase
    from huntress_pipeline.simulator import running_server

    world = SimWorld(seed=3, organizations=10, agents=50, incidents=0)
    store = PsaStore.from_url(pg_url)
    store.init_schema()
    pipeline_home = tmp / "pipeline-home"
    secrets = pipeline_home / "secrets"
    results = {}
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    os.environ["HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL"] = "0"
    with running_server(SimulatorApi(world, rate_limit_per_minute=None)) as sim, instance_for_test() as instance:
        pipeline = actions.Pipeline(store, SecretStore(secrets))
        tenants = [connected_tenant(store, pipeline, world, sim)[0].tenant for _ in range(max(tenant_counts))]
        instance.add_dynamic_partitions("tenants", tenants)
        defs = build_definitions({"psa": PsaDatabase(database_url=pg_url),
                                  "huntress": HuntressClientFactory(secrets_dir=str(secrets), min_request_interval=0)})
        job = defs.resolve_job_def("huntress_incident_job")
        job.execute_in_process(partition_key=tenant_day_key(tenants[0], today_utc()), instance=instance, run_config=quiet)  # warm-up
        for count in tenant_counts:
            wall, cpu = time.perf_counter(), time.process_time()
            for tenant in tenants[:count]:
                assert job.execute_in_process(partition_key=tenant_day_key(tenant, today_utc()), instance=instance, run_config=quiet).success
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            results[str(count)] = {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
                                   "per_tenant_wall": round(wall / count, 3), "per_tenant_cpu": round(cpu / count, 3)}
        # a run as the daemon launches it: a fresh process that imports Dagster and the code location
        from dagster import DagsterInstance

        dagster_home = tmp / "dagster-home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        sub_instance = DagsterInstance.from_config(str(dagster_home))
        sub_instance.add_dynamic_partitions("tenants", tenants[:1])
        sub_instance.dispose()
        env = {**os.environ, "HUNTRESS_PIPELINE_DATABASE_URL": pg_url, "HUNTRESS_PIPELINE_HOME": str(pipeline_home),
               "DAGSTER_HOME": str(dagster_home)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "huntress_pipeline.definitions",
                               "--select", "huntress_incidents,incident_plans,psa_tickets", "--partition", str(tenant_day_key(tenants[0], today_utc()))],
                              capture_output=True, text=True, env=env, timeout=600, cwd=str(tmp))
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        results["subprocess_run"] = {"wall_seconds": round(wall, 2),
                                     "cpu_seconds": round((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), 2),
                                     "exit_code": proc.returncode}
    store.dispose()
    per_tenant = results[str(max(tenant_counts))]["per_tenant_cpu"]
    sub = results["subprocess_run"]["cpu_seconds"]
    results["tenants_per_5_minutes_2_cores_in_process"] = int(300 * 2 / max(per_tenant, 1e-3))
    results["tenants_per_5_minutes_2_cores_one_process_per_run"] = int(300 * 2 / max(sub, 1e-3))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--quick", action="store_true", help="Smaller sizes (a smoke run, not the reported figures).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    args = parser.parse_args()
    os.environ.setdefault("HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL", "0")
    n = 1000 if args.quick else 10000
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"huntress-bench-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    report: dict = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                                "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}}
    with fresh_postgres(args.postgres_url) as pg:
        print("1/4 API budget ...", flush=True)
        report["api_budget"] = api_budget(pg, n, 100, 2000 if not args.quick else 400, tmp)
        print("2/4 database throughput ...", flush=True)
        report["throughput"] = [throughput(pg, n, 1000 if not args.quick else 200, tmp),
                                throughput(f"sqlite:///{tmp / 'bench.db'}", n, 1000 if not args.quick else 200, tmp)]
        print("3/4 walk memory ...", flush=True)
        report["memory"] = memory([n // 10, n])
        print("4/4 Dagster idle tenants ...", flush=True)
        report["dagster_idle"] = dagster_idle(pg, [1, 10, 50] if not args.quick else [1, 3], tmp)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"\nwritten to {args.out}")


def print_table(r: dict) -> None:
    a = r["api_budget"]
    rows = [
        ("API: first backfill requests (ours / spec design)", f"{a['first_backfill_requests']} / {a['first_backfill_requests_spec_design']}",
         f"{a['incidents']} incidents, {a['organizations']} orgs, {a['agents']} agents; target <= 30"),
        ("API: first backfill at 60 req/min (ours / spec)", f"{a['first_backfill_minutes_at_60_per_min']} / {a['spec_design_minutes_at_60_per_min']} min",
         f"virtual clock {a['first_backfill_virtual_seconds']} s with 1.1 s spacing; {a['status_429']} x 429"),
        ("API: idle poll requests", str(a["idle_poll_requests"]), "target 1"),
        ("API: poll after N changes", str(a["changed_poll_requests"]), f"N={a['changed_incidents']}; ceil(N/500)={a['changed_poll_expected']}"),
    ]
    for t in r["throughput"]:
        rows += [
            (f"DB {t['backend']}: all new (ticket+thread+note+alert)", f"{t['new_per_second']}/s", f"{t['incidents']} incidents; target >= 1,000/s"),
            (f"DB {t['backend']}: all unchanged (skips)", f"{t['unchanged_per_second']}/s", "target >= 20,000/s"),
            (f"DB {t['backend']}: spec one-at-a-time, new / unchanged", f"{t['spec_one_at_a_time_new_per_second']}/s / {t['spec_one_at_a_time_unchanged_per_second']}/s",
             f"{t['baseline_incidents']} incidents; batch is x{t['ratio_new']} (new), x{t['ratio_unchanged']} (unchanged)"),
        ]
    for m in r["memory"]:
        rows.append((f"walk of {m['incidents']} incidents ({m['pages']} pages), {m['mode']}", f"peak RSS {m['rss_peak_mb']} MB",
                     f"{m['rss_after_imports_mb']} MB after imports; traced peak {m['traced_peak_mb']} MB, held after the walk "
                     f"{m['traced_held_mb']} MB; one raw page = {m['raw_page_kb']} KB"))
    d = r["dagster_idle"]
    for key in [k for k in d if k.isdigit()]:
        rows.append((f"Dagster idle tick, {key} tenants (in-process)", f"{d[key]['per_tenant_cpu']} s CPU/tenant",
                     f"{d[key]['wall_seconds']} s wall, {d[key]['cpu_seconds']} s CPU in all"))
    s = d["subprocess_run"]
    rows.append(("Dagster run in its own process", f"{s['cpu_seconds']} s CPU", f"{s['wall_seconds']} s wall (exit {s['exit_code']})"))
    rows.append(("Idle tenants per 5 min on 2 cores", f"{d['tenants_per_5_minutes_2_cores_one_process_per_run']} (process per run)",
                 f"{d['tenants_per_5_minutes_2_cores_in_process']} if runs shared a process"))
    width = max(len(x[0]) for x in rows)
    print(f"\nmachine: {r['machine']['platform']}, {r['machine']['cpus']} CPUs, Python {r['machine']['python']}, {r['machine']['when']}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<26} {note}")


if __name__ == "__main__":
    main()
