"""The ``huntress-pipeline`` command line.

Every server action of the spec has a command. Exit codes: 0 success, 1 the
operation failed, 2 bad usage or configuration; a failure always prints one
line saying why on stderr. Secrets are read from HUNTRESS_API_KEY /
HUNTRESS_API_SECRET or a hidden prompt, never from arguments.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from datetime import datetime, time, timedelta, timezone
from typing import Any, Callable

import click
import sqlalchemy.exc

from .psa import actions
from .psa.secrets import HuntressCredentials, SecretStore, pipeline_home
from .psa.store import PsaStore, StoreError

DATABASE_URL_ENV = "HUNTRESS_PIPELINE_DATABASE_URL"


def default_database_url() -> str:
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{pipeline_home() / 'psa.db'}"


class Context:
    def __init__(self, database_url: str):
        self.database_url = database_url
        self._pipeline: actions.Pipeline | None = None

    @property
    def pipeline(self) -> actions.Pipeline:
        if self._pipeline is None:
            self._pipeline = actions.Pipeline(PsaStore.from_url(self.database_url), SecretStore())
        return self._pipeline


def fail(message: str, code: int) -> None:
    click.echo(f"huntress-pipeline: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def handled(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the pipeline's errors into a one-line reason and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except actions.ActionError as exc:
            fail(str(exc), exc.exit_code)
        except StoreError as exc:
            fail(str(exc), 2)
        except sqlalchemy.exc.OperationalError as exc:
            fail(f"cannot use the PSA database: {str(exc.orig).strip().splitlines()[0] if exc.orig else exc}", 2)
        except sqlalchemy.exc.ArgumentError:
            fail("bad database URL: expected e.g. postgresql://user@host/db or sqlite:///path.db", 2)  # never echo it: it may hold a password
        except ValueError as exc:
            fail(str(exc), 2)

    return wrapper


def emit(data: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str, sort_keys=True))
    else:
        human(data)


pass_ctx = click.make_pass_decorator(Context)
tenant_option = click.option("--tenant", required=True, help="Tenant id (the tenants.tenant uuid).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar=DATABASE_URL_ENV, default=None, show_envvar=True,
              help="PSA database URL (default: a SQLite file under HUNTRESS_PIPELINE_HOME).")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, database_url: str | None, verbose: int) -> None:
    """Huntress incident reports to routed Alga PSA tickets."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    ctx.obj = Context(database_url or default_database_url())


# -- db -------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """The PSA database schema."""


@db.command("init")
@pass_ctx
@handled
def db_init(ctx: Context) -> None:
    """Create the missing Alga tables (never altering existing ones) and migrate huntress_* tables."""
    created = ctx.pipeline.store.init_schema()
    click.echo(f"created {len(created)} Alga tables" + (f": {', '.join(created)}" if created else " (all existed)")
               + "; huntress_* tables at the latest migration")


# -- connect / status / configure ------------------------------------------------------
@main.command()
@tenant_option
@click.option("--base-url", default=None, help="Huntress API base URL (default https://api.huntress.io).")
@pass_ctx
@handled
def connect(ctx: Context, tenant: str, base_url: str | None) -> None:
    """Validate and store Huntress API credentials, pre-fill priorities, sync organizations."""
    key = os.environ.get("HUNTRESS_API_KEY") or _prompt_secret("Huntress API key")
    secret = os.environ.get("HUNTRESS_API_SECRET") or _prompt_secret("Huntress API secret")
    result = actions.connect(ctx.pipeline, tenant, HuntressCredentials(key, secret), base_url)
    click.echo(f"connected to Huntress account {result.account_name!r} ({result.account_subdomain}.huntress.io)")
    if result.org_sync:
        s = result.org_sync
        click.echo(f"organizations: {s.total} ({s.created} new, {s.auto_matched} auto-matched to clients)")
    else:
        click.echo(f"organization sync failed ({result.org_sync_error}); retry with `huntress-pipeline orgs sync`")


def _prompt_secret(label: str) -> str:
    if not sys.stdin.isatty():
        raise actions.ConfigurationError(f"{label} missing: set HUNTRESS_API_KEY and HUNTRESS_API_SECRET or run interactively")
    return click.prompt(label, hide_input=True)


@main.command()
@tenant_option
@json_option
@pass_ctx
@handled
def status(ctx: Context, tenant: str, as_json: bool) -> None:
    """Connection, sync and routing status of a tenant."""

    def human(s: dict[str, Any]) -> None:
        if not s["is_connected"]:
            click.echo(f"tenant {tenant}: Huntress not connected")
            return
        click.echo(f"tenant {tenant}: connected to {s['account_name']} ({s['account_subdomain']})")
        click.echo(f"  sync: {s['sync_status']}" + (f" - {s['sync_error']}" if s["sync_error"] else "")
                   + f"; last poll {s['last_poll_at'] or 'never'}; cursor {s['incident_cursor'] or 'none'}")
        routing = "complete" if s["routing_config_complete"] else "INCOMPLETE, missing " + ", ".join(s["routing_missing"])
        click.echo(f"  routing: {routing}")
        click.echo(f"  organizations: {s['organization_count']} ({s['unmapped_count']} unmapped); open alerts: {s['open_alert_count']}")

    emit(actions.status(ctx.pipeline, tenant), as_json, human)


class PriorityParam(click.ParamType):
    name = "SEVERITY=PRIORITY_ID"

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        severity, sep, priority = str(value).partition("=")
        if not sep or severity.strip() not in ("critical", "high", "low") or not priority.strip():
            self.fail(f"{value!r} is not critical=ID, high=ID or low=ID", param, ctx)
        return severity.strip(), priority.strip()


@main.command()
@tenant_option
@click.option("--board", help="Security board for mapped organizations.")
@click.option("--category", help="Ticket category (optional).")
@click.option("--subcategory", help="Ticket subcategory (optional).")
@click.option("--fallback-client", help="Client for incidents of unmapped organizations.")
@click.option("--fallback-board", help="Triage board for incidents of unmapped organizations.")
@click.option("--priority", "priorities", multiple=True, type=PriorityParam(), help="critical=ID, high=ID, low=ID.")
@click.option("--auto-close/--no-auto-close", default=None, help="Close tickets when Huntress closes the incident.")
@click.option("--closed-status", help="Closed ticket status used by auto-close.")
@click.option("--poll-interval", type=click.IntRange(1, 60), help="Minutes between polls (1-60).")
@click.option("--backfill-days", type=click.IntRange(1, 30), help="Days walked on the first poll (1-30).")
@pass_ctx
@handled
def configure(ctx: Context, tenant: str, priorities: tuple[tuple[str, str], ...], **options: Any) -> None:
    """Routing and polling settings (the incident cursor is never touched)."""
    given = {k: v for k, v in options.items() if v is not None}
    settings = actions.configure(ctx.pipeline, tenant, priorities=dict(priorities) or None, **given)
    from .core.settings import missing_routing_fields

    missing = missing_routing_fields(settings)
    click.echo("settings saved; routing " + ("complete" if not missing else "incomplete, missing " + ", ".join(missing)))


@main.command("routing-options")
@tenant_option
@json_option
@pass_ctx
@handled
def routing_options(ctx: Context, tenant: str, as_json: bool) -> None:
    """Boards, priorities, categories and closed statuses to configure routing with."""
    options = actions.routing_options(ctx.pipeline, tenant)
    data = {k: getattr(options, k) for k in ("boards", "priorities", "categories", "closed_statuses", "clients")}

    def human(d: dict[str, list[dict[str, Any]]]) -> None:
        for title, key, id_col, name_col in (("Boards", "boards", "board_id", "board_name"),
                                             ("Priorities", "priorities", "priority_id", "priority_name"),
                                             ("Categories", "categories", "category_id", "category_name"),
                                             ("Closed statuses", "closed_statuses", "status_id", "status_name"),
                                             ("Clients", "clients", "client_id", "client_name")):
            click.echo(f"{title}:")
            for row in d[key]:
                click.echo(f"  {row[id_col]}  {row[name_col]}")

    emit(data, as_json, human)


# -- organizations and agents ----------------------------------------------------------
@main.group()
def orgs() -> None:
    """Huntress organizations and their client mappings."""


@orgs.command("sync")
@tenant_option
@json_option
@pass_ctx
@handled
def orgs_sync(ctx: Context, tenant: str, as_json: bool) -> None:
    """Fetch organizations, refresh names, auto-match exact client names."""
    result, requests = actions.sync_orgs(ctx.pipeline, tenant)
    data = {**result.__dict__, "api_requests": requests}
    emit(data, as_json, lambda d: click.echo(
        f"organizations: {d['total']} ({d['created']} new, {d['updated']} refreshed, {d['auto_matched']} auto-matched)"))


@orgs.command("list")
@tenant_option
@json_option
@pass_ctx
@handled
def orgs_list(ctx: Context, tenant: str, as_json: bool) -> None:
    """Organizations with their mapped client."""
    records = actions.list_orgs(ctx.pipeline, tenant)
    data = [
        {"organization_id": m.external_organization_id, "organization_name": m.external_organization_name,
         "client_id": m.client_id, "client_name": m.client_name, "auto_matched": m.auto_matched,
         "tickets": m.auto_create_tickets}
        for m in records
    ]

    def human(rows: list[dict[str, Any]]) -> None:
        for r in rows:
            target = f"-> {r['client_name']} ({r['client_id']})" if r["client_id"] else "-> UNMAPPED (fallback client)"
            flags = (" [auto-matched]" if r["auto_matched"] else "") + ("" if r["tickets"] else " [tickets off]")
            click.echo(f"{r['organization_id']:>8}  {r['organization_name']}  {target}{flags}")

    emit(data, as_json, human)


@orgs.command("map")
@tenant_option
@click.argument("org_id")
@click.option("--client", "client_id", help="Client to map the organization to.")
@click.option("--unmap", is_flag=True, help="Remove the mapping (incidents go to the fallback client).")
@click.option("--tickets/--no-tickets", default=None, help="Create tickets for this organization's incidents.")
@pass_ctx
@handled
def orgs_map(ctx: Context, tenant: str, org_id: str, client_id: str | None, unmap: bool, tickets: bool | None) -> None:
    """Map ORG_ID to a client, unmap it, or switch its tickets on or off."""
    if client_id and unmap:
        raise click.UsageError("--client and --unmap exclude each other")
    if not client_id and not unmap and tickets is None:
        raise click.UsageError("give --client ID, --unmap or --tickets/--no-tickets")
    kwargs: dict[str, Any] = {"tickets": tickets}
    if client_id or unmap:
        kwargs["client_id"] = None if unmap else client_id
    record = actions.map_org(ctx.pipeline, tenant, org_id, **kwargs)
    target = f"{record.client_name} ({record.client_id})" if record.client_id else "unmapped (fallback client)"
    click.echo(f"organization {org_id} {record.external_organization_name!r}: {target}; tickets {'on' if record.auto_create_tickets else 'off'}")


@main.group()
def agents() -> None:
    """The Huntress agents snapshot."""


@agents.command("sync")
@tenant_option
@pass_ctx
@handled
def agents_sync(ctx: Context, tenant: str) -> None:
    """List every agent (500 a page) into the snapshot used for ticket host details."""
    count, requests = actions.sync_agents(ctx.pipeline, tenant)
    click.echo(f"agents: {count} in the snapshot ({requests} API requests)")


# -- poll / disconnect -----------------------------------------------------------------
@main.command()
@tenant_option
@click.option("--day", type=click.DateTime(formats=["%Y-%m-%d"]), help="Backfill one past UTC day instead of walking from the cursor.")
@json_option
@pass_ctx
@handled
def poll(ctx: Context, tenant: str, day: datetime | None, as_json: bool) -> None:
    """Run one poll cycle now."""
    window = {}
    if day is not None:
        start = datetime.combine(day.date(), time(), tzinfo=timezone.utc)
        window = {"window_start": start, "window_end": start + timedelta(days=1)}
    result = actions.poll(ctx.pipeline, tenant, **window)

    def human(r: dict[str, Any]) -> None:
        if r["skipped"]:
            click.echo(f"poll skipped: {r['skipped']}" + (f" ({r['error']})" if r["error"] else ""))
            return
        c = r["counts"]
        click.echo(
            f"processed {r['processed']} of {r['seen']} incidents: {c['create_ticket']} tickets created "
            f"({r['unmapped_tickets']} to the fallback client), {c['append_note']} notes, {c['record_only']} recorded only, "
            f"{c['skip']} unchanged; {r['api_requests']} API requests; cursor {r['cursor']}"
        )

    emit(result.as_dict(), as_json, human)
    if not result.success:
        fail(result.error or result.skipped or "poll failed", 1)


@main.command()
@tenant_option
@pass_ctx
@handled
def disconnect(ctx: Context, tenant: str) -> None:
    """Deactivate the integration and delete the stored credentials (tickets and mappings stay)."""
    was = actions.disconnect(ctx.pipeline, tenant)
    click.echo("disconnected; credentials deleted" if was else "was not connected; no credentials left")


# -- reports -------------------------------------------------------------------------------
@main.command()
@click.argument("kind", type=click.Choice(["summary", "time-to-close", "unmapped"]))
@tenant_option
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="First UTC day included.")
@click.option("--until", type=click.DateTime(formats=["%Y-%m-%d"]), help="Last UTC day included.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@pass_ctx
@handled
def report(ctx: Context, kind: str, tenant: str, since: datetime | None, until: datetime | None, fmt: str) -> None:
    """Reports from the incident history: summary, time-to-close, unmapped."""
    from .psa.reports import build_report

    if since and until and since > until:
        raise click.UsageError("--since is after --until")
    ctx.pipeline.require_tenant(tenant)
    result = build_report(ctx.pipeline.store, tenant, kind, since=since.date() if since else None,
                          until=until.date() if until else None)
    if fmt == "csv":
        click.echo(result.table.to_csv(index=False), nl=False)
    elif fmt == "json":
        def records(frame):
            return json.loads(frame.to_json(orient="records", date_format="iso"))

        click.echo(json.dumps({"report": kind, "tenant": tenant, "rows": records(result.table),
                               **{name: records(frame) for name, frame in result.extra.items()}}, indent=2))
    else:
        if result.table.empty:
            click.echo(f"no {kind} rows for tenant {tenant} in that range")
            return
        click.echo(result.table.to_string(index=False))
        for name, frame in result.extra.items():
            click.echo(f"\n{name.replace('_', ' ')}:")
            click.echo(frame.to_string(index=False))


# -- the demo ----------------------------------------------------------------------------
@main.command()
@click.option("--ticks", default=6, show_default=True, type=click.IntRange(1, 100), help="5-minute ticks to materialize.")
@click.option("--seed", default=7, show_default=True, type=int, help="Simulator seed.")
@click.option("--home", type=click.Path(file_okay=False), default=None,
              help="Demo folder (wiped first; default $HUNTRESS_PIPELINE_HOME/demo).")
@click.option("--serve", is_flag=True, help="Keep the simulator serving afterwards (for the web UI), until Ctrl-C.")
@click.option("--sim-port", default=0, show_default=True, type=int, help="Simulator port (0: any free port).")
def demo(ticks: int, seed: int, home: str | None, serve: bool, sim_port: int) -> None:
    """The whole pipeline on SQLite, Dagster's local storage and the simulator."""
    from pathlib import Path

    from .demo import run_demo

    try:
        run_demo(Path(home) if home else pipeline_home() / "demo", ticks=ticks, seed=seed, echo=click.echo,
                 serve=serve, sim_port=sim_port)
    except OSError as exc:
        fail(f"demo could not start: {exc}", 1)


# -- the simulator ---------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--organizations", default=8, show_default=True, type=click.IntRange(1))
@click.option("--agents", "agent_count", default=60, show_default=True, type=click.IntRange(1))
@click.option("--incidents", default=40, show_default=True, type=click.IntRange(0))
@click.option("--rate-limit", default=60, show_default=True, type=click.IntRange(0), help="Requests a minute (0: no limit).")
@click.option("--activity-every", default=0.0, show_default=True, type=float,
              help="Seconds between bursts of simulated SOC activity (0: none).")
def simulate(host: str, port: int, seed: int, organizations: int, agent_count: int, incidents: int, rate_limit: int,
             activity_every: float) -> None:
    """Serve a simulated Huntress API on HOST:PORT (for demos and tests)."""
    import threading

    from .simulator import RealClock, SimulatorApi, SimWorld, make_server

    world = SimWorld(seed=seed, organizations=organizations, agents=agent_count, incidents=incidents, clock=RealClock())
    api = SimulatorApi(world, rate_limit_per_minute=rate_limit or None)
    try:
        server = make_server(api, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}", 2)
    click.echo(f"simulated Huntress API on http://{host}:{server.server_address[1]} "
               f"(key {world.credentials.api_key!r}, secret {world.credentials.api_secret!r}: simulator-only values)")
    stop = threading.Event()
    if activity_every > 0:
        def churn() -> None:
            while not stop.wait(activity_every):
                world.random_activity()
        threading.Thread(target=churn, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()


if __name__ == "__main__":  # pragma: no cover
    main()
