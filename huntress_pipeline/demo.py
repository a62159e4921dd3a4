"""The embedded-default main job: the whole pipeline on SQLite, Dagster's default local
storage and the simulator, in one command (``huntress-pipeline demo``).

It creates a demo tenant with clients, boards, statuses and priorities, connects to the
simulator, configures routing, syncs organizations and agents, then materializes several
5-minute ticks while the simulated SOC creates, updates and closes incidents, and says
what happened and how to open the same data in the web UI.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from .huntress.client import MIN_REQUEST_INTERVAL_ENV
from .psa import actions
from .psa import schema as s
from .psa.secrets import HuntressCredentials, SecretStore
from .psa.store import PsaStore

DEMO_CLIENTS = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries"]
FALLBACK_CLIENT = "Internal (Unmapped Security)"


@dataclass
class DemoTenant:
    tenant: str = field(default_factory=lambda: str(uuid.uuid4()))
    clients: dict[str, str] = field(default_factory=dict)
    boards: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    priorities: dict[str, str] = field(default_factory=dict)


def seed_demo_tenant(store: PsaStore, name: str = "Demo MSP") -> DemoTenant:
    """A tenant with a user, clients, two boards, open/closed statuses and four priorities."""
    t = DemoTenant()
    now = datetime.now(timezone.utc)
    user = str(uuid.uuid4())
    new = lambda: str(uuid.uuid4())  # noqa: E731
    t.clients = {n: new() for n in [*DEMO_CLIENTS, FALLBACK_CLIENT]}
    t.boards = {n: new() for n in ("Security", "Security Triage", "General Support")}
    t.statuses = {n: new() for n in ("New", "In Progress", "Closed")}
    t.priorities = {n: new() for n in ("Critical", "High", "Medium", "Low")}
    with store.engine.begin() as db:
        db.execute(sa.insert(s.tenants).values(tenant=t.tenant, client_name=name, email="soc@demo-msp.example", created_at=now, updated_at=now))
        db.execute(sa.insert(s.users).values(tenant=t.tenant, user_id=user, username="demo.admin", hashed_password="!",
                                             email="admin@demo-msp.example", created_at=now, updated_at=now))
        db.execute(sa.insert(s.clients), [{"tenant": t.tenant, "client_id": cid, "client_name": n, "is_inactive": False,
                                           "created_at": now, "updated_at": now} for n, cid in t.clients.items()])
        db.execute(sa.insert(s.boards), [{"tenant": t.tenant, "board_id": bid, "board_name": n, "is_default": n == "General Support",
                                          "created_at": now, "updated_at": now} for n, bid in t.boards.items()])
        db.execute(sa.insert(s.statuses), [
            {"tenant": t.tenant, "status_id": sid, "name": n, "status_type": "ticket", "item_type": "ticket",
             "is_closed": n == "Closed", "is_default": n == "New", "order_number": order, "created_by": user}
            for order, (n, sid) in enumerate(t.statuses.items(), start=1)
        ])
        db.execute(sa.insert(s.priorities), [
            {"tenant": t.tenant, "priority_id": pid, "priority_name": n, "item_type": "ticket", "order_number": order,
             "created_by": user, "created_at": now, "updated_at": now}
            for order, (n, pid) in enumerate(t.priorities.items(), start=1)
        ])
    return t


@dataclass
class TickReport:
    tick: int
    activity: dict[str, list[int]]
    metadata: dict


def run_demo(home: Path, *, ticks: int = 6, seed: int = 7, echo: Callable[[str], None] = print,
             serve: bool = False, sim_port: int = 0) -> dict:
    """Run the demo in ``home`` (wiped first); returns the totals it printed."""
    from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context

    from .definitions import build_definitions
    from .orchestration.resources import HuntressClientFactory, PsaDatabase
    from .orchestration.schedules import huntress_incident_poll
    from .orchestration.sensors import huntress_reports_sensor
    from .orchestration.sensors import huntress_tenant_sensor
    from .simulator import SimClock, SimulatorApi, SimWorld, running_server

    os.environ.setdefault(MIN_REQUEST_INTERVAL_ENV, "0")  # the simulator, not the real API: no need to wait
    if home.exists():
        shutil.rmtree(home)
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True)
    # Dagster's default local storage (SQLite files under DAGSTER_HOME); only telemetry is switched off.
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    database_url = f"sqlite:///{home / 'psa.db'}"
    store = PsaStore.from_url(database_url)
    store.init_schema()
    secrets = SecretStore(home / "secrets")
    world = SimWorld(seed=seed, organizations=8, agents=60, incidents=40,
                     clock=SimClock(datetime.now(timezone.utc).replace(microsecond=0)))
    api = SimulatorApi(world)
    totals = {"tickets_created": 0, "notes_added": 0, "tickets_closed": 0, "unmapped_tickets": 0, "api_requests": 0}
    with running_server(api, port=sim_port) as sim_url:
        echo(f"simulated Huntress API at {sim_url}: {len(world.organizations)} organizations, "
             f"{len(world.agents)} agents, {len(world.incidents)} incident reports over the last 5 days")
        tenant = seed_demo_tenant(store)
        pipeline = actions.Pipeline(store, secrets)
        echo(f"demo tenant {tenant.tenant}: clients {', '.join(DEMO_CLIENTS)} + fallback {FALLBACK_CLIENT!r}")
        connected = actions.connect(pipeline, tenant.tenant, HuntressCredentials(world.credentials.api_key, world.credentials.api_secret), sim_url)
        totals["api_requests"] += connected.api_requests
        echo(f"connected to {connected.account_name!r}: {connected.org_sync.total} organizations, "
             f"{connected.org_sync.auto_matched} auto-matched to clients by name")
        actions.configure(
            pipeline, tenant.tenant, board=tenant.boards["Security"], fallback_client=tenant.clients[FALLBACK_CLIENT],
            fallback_board=tenant.boards["Security Triage"], auto_close=True, closed_status=tenant.statuses["Closed"],
        )
        echo("routing: Security board, unmapped organizations to the fallback client's Security Triage board, auto-close on")

        instance = DagsterInstance.from_config(str(dagster_home))
        resources = {"psa": PsaDatabase(database_url=database_url),
                     "huntress": HuntressClientFactory(secrets_dir=str(home / "secrets"))}
        defs = build_definitions(resources)
        with build_sensor_context(instance=instance, resources={"psa": resources["psa"]}) as context:
            for request in huntress_tenant_sensor(context).dynamic_partitions_requests:
                instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        directory = defs.resolve_job_def("huntress_directory_job").execute_in_process(
            partition_key=tenant.tenant, instance=instance, run_config=quiet)
        meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in directory.get_asset_materialization_events()}
        totals["api_requests"] += meta["huntress_organizations"]["api_requests"].value + meta["huntress_agents"]["api_requests"].value
        echo(f"directory sync: {meta['huntress_agents']['agents'].value} agents in the snapshot, "
             f"{meta['huntress_organizations']['unmapped'].value} organizations unmapped")

        job = defs.resolve_job_def("huntress_incident_job")
        echo("")
        echo("tick  SOC activity (new/updated/closed)  tickets  notes  closed  unmapped  API requests  cursor")
        start = datetime.now(timezone.utc)
        for tick in range(1, ticks + 1):
            if tick > 1:
                world.clock.advance(minutes=5)
                activity = world.random_activity(new=2, updates=2, closes=1)
            else:
                activity = {"new": [], "updated": [], "closed": []}
            # The 5-minute schedule decides which tenant partitions to run at this tick.
            tick_time = start + timedelta(minutes=5 * (tick - 1), seconds=1)
            with build_schedule_context(instance=instance, scheduled_execution_time=tick_time,
                                        resources={"psa": resources["psa"]}) as context:
                requests = huntress_incident_poll(context)
            if not isinstance(requests, list):
                echo(f"{tick:>4}  schedule skipped: {requests.skip_message}")
                continue
            (request,) = requests
            result = job.execute_in_process(partition_key=request.partition_key, instance=instance,
                                            tags=request.tags, run_config=quiet)
            m = {k: v.value for k, v in next(e.materialization.metadata for e in result.get_asset_materialization_events()
                                             if e.asset_key == AssetKey("psa_tickets")).items()}
            for key in totals:
                totals[key] += m.get(key, 0)
            label = "backfill (first poll)" if tick == 1 else f"{len(activity['new'])}/{len(activity['updated'])}/{len(activity['closed'])}"
            echo(f"{tick:>4}  {label:<34} {m['tickets_created']:>7} {m['notes_added']:>6} {m['tickets_closed']:>7} "
                 f"{m['unmapped_tickets']:>9} {m['api_requests']:>13}  {m['cursor_after']}")
        # The reports sensor sees the new psa_tickets materializations and refreshes the tenant's reports.
        with build_sensor_context(instance=instance) as context:
            report_runs = huntress_reports_sensor(context).run_requests
        for request in report_runs:
            defs.resolve_job_def("huntress_reports_job").execute_in_process(
                partition_key=request.partition_key, instance=instance, tags=request.tags, run_config=quiet)
        echo(f"\nreports refreshed (incident_daily_summary, incident_time_to_close, unmapped_incidents); "
             f"e.g. huntress-pipeline --database-url {database_url} report summary --tenant {tenant.tenant}")
        status = actions.status(pipeline, tenant.tenant)
        unmapped = [o.external_organization_name for o in actions.list_orgs(pipeline, tenant.tenant) if o.client_id is None]
        if serve:
            _report(echo, totals, status, unmapped, dagster_home, home, database_url, tenant.tenant)
            echo(f"\nthe simulator keeps serving at {sim_url} (new SOC activity every minute): materialize more "
                 "partitions from the web UI; press Ctrl-C to stop")
            try:
                while True:
                    time.sleep(60)
                    world.clock.advance(minutes=1)
                    world.random_activity(new=1, updates=1, closes=1)
            except KeyboardInterrupt:
                pass
    store.dispose()
    if not serve:
        _report(echo, totals, status, unmapped, dagster_home, home, database_url, tenant.tenant)
    return {**totals, "tenant": tenant.tenant, "home": str(home), "unmapped": sorted(unmapped), "open_alerts": status["open_alert_count"]}


def _report(echo, totals, status, unmapped, dagster_home, home, database_url, tenant) -> None:
    echo("")
    echo(f"totals: {totals['tickets_created']} tickets created ({totals['unmapped_tickets']} on the fallback client), "
         f"{totals['notes_added']} update notes, {totals['tickets_closed']} tickets auto-closed, "
         f"{totals['api_requests']} Huntress API requests")
    echo(f"open alerts: {status['open_alert_count']}; unmapped organizations (map them with `huntress-pipeline orgs map`): "
         f"{', '.join(sorted(unmapped)) or 'none'}")
    echo("")
    echo("Open the same runs, partitions, checks and tables in the Dagster web UI:")
    echo(f"  DAGSTER_HOME={dagster_home} HUNTRESS_PIPELINE_HOME={home} \\")
    echo(f"  HUNTRESS_PIPELINE_DATABASE_URL={database_url} dagster dev -w workspace.yaml")
    echo(f"and the tickets with the CLI: huntress-pipeline --database-url {database_url} status --tenant {tenant}")


