"""db init: creates only what is missing, never alters an Alga table, and upgrades huntress_* in place."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import huntress_pipeline.psa.store as store_module
from huntress_pipeline.psa import schema as s
from huntress_pipeline.psa.store import PsaStore


def test_init_leaves_an_existing_alga_table_as_it_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'alga.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # an "Alga" tickets table with a column the pipeline does not know
        conn.exec_driver_sql("CREATE TABLE tickets (tenant TEXT, ticket_id TEXT, ticket_number TEXT, client_id TEXT, "
                             "custom_alga_column TEXT, PRIMARY KEY (tenant, ticket_id))")
        conn.exec_driver_sql("INSERT INTO tickets VALUES ('t', 'x', 'TIC000001', 'c', 'kept')")
    store = PsaStore.from_url(url)
    created = store.init_schema()
    assert "tickets" not in created and "rmm_alerts" in created
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("tickets")}
        assert "custom_alga_column" in columns and "attributes" not in columns
        assert conn.exec_driver_sql("SELECT custom_alga_column FROM tickets").scalar_one() == "kept"
    assert store.missing_tables() == []
    assert store.init_schema() == []  # idempotent
    store.dispose()
    engine.dispose()


def test_an_install_at_the_first_migration_upgrades_in_place(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = PsaStore.from_url(url)
    with store.engine.begin() as conn:
        s.alga.create_all(conn)
        config = Config()
        config.set_main_option("script_location", str(Path(store_module.__file__).parent / "migrations"))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert "huntress_incident_versions" in store.missing_tables()
    with store.engine.begin() as conn:
        conn.execute(sa.insert(s.huntress_poll_locks).values(tenant="t", integration_id="i", holder="h"))
    store.init_schema()
    assert store.missing_tables() == []
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM huntress_alembic_version").scalar_one() == "0002"
        assert conn.execute(sa.select(s.huntress_poll_locks.c.holder)).scalar_one() == "h"  # data kept
    store.dispose()
