"""Shared fixtures: PSA stores on SQLite and PostgreSQL, a seeded tenant, the simulator.

PostgreSQL tests need HUNTRESS_PIPELINE_TEST_POSTGRES_URL (``.ci/run`` sets it);
without it they are skipped. Each test session gets its own database, and
each test its own tenant, so tests never see each other's rows.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from huntress_pipeline.psa.store import PsaStore

PG_ENV = "HUNTRESS_PIPELINE_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _fast_client(monkeypatch):
    # Full speed against the simulator: tests that check spacing pass it explicitly.
    monkeypatch.setenv("HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL", "0")


@pytest.fixture(scope="session")
def postgres_url():
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set (.ci/run sets it)")
    name = f"huntress_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def _pg_store(postgres_url):
    store = PsaStore.from_url(postgres_url)
    store.init_schema()
    yield store
    store.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'psa.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url, request):
    if database_url.startswith("postgresql"):
        yield request.getfixturevalue("_pg_store")
        return
    store = PsaStore.from_url(database_url)
    store.init_schema()
    yield store
    store.dispose()
