from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest
from dagster import DagsterInstance, instance_for_test

from huntress_pipeline.definitions import build_definitions
from huntress_pipeline.orchestration.partitions import tenant_day_key, today_utc
from huntress_pipeline.orchestration.resources import HuntressClientFactory, PsaDatabase
from huntress_pipeline.psa import actions
from huntress_pipeline.psa.secrets import HuntressCredentials, SecretStore
from huntress_pipeline.simulator import SimClock, SimulatorApi, SimWorld, running_server
from huntress_pipeline_tests.fixtures import Tenant, seed_reference

warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")


@dataclass
class Env:
    instance: DagsterInstance
    pipeline: actions.Pipeline
    tenant: Tenant
    world: SimWorld
    api: SimulatorApi
    resources: dict
    url: str

    @property
    def defs(self):
        return build_definitions(self.resources)

    def run_incidents(self, day: str | None = None, raise_on_error: bool = True):
        job = self.defs.resolve_job_def("huntress_incident_job")
        return job.execute_in_process(partition_key=tenant_day_key(self.tenant.tenant, day or today_utc()),
                                      instance=self.instance, raise_on_error=raise_on_error)

    def run_directory(self):
        job = self.defs.resolve_job_def("huntress_directory_job")
        return job.execute_in_process(partition_key=self.tenant.tenant, instance=self.instance)


@pytest.fixture
def sim_world():
    return SimWorld(seed=31, organizations=4, agents=10, incidents=0, clock=SimClock(datetime.now(timezone.utc).replace(microsecond=0)))


@pytest.fixture
def env(store, tmp_path, sim_world):
    api = SimulatorApi(sim_world, rate_limit_per_minute=None)
    with running_server(api) as url, instance_for_test() as instance:
        secrets = SecretStore(tmp_path / "secrets")
        pipeline = actions.Pipeline(store, secrets)
        t = seed_reference(store)
        actions.connect(pipeline, t.tenant, HuntressCredentials(sim_world.credentials.api_key, sim_world.credentials.api_secret), url)
        actions.configure(pipeline, t.tenant, board=t.security_board, fallback_client=t.fallback_client,
                          fallback_board=t.triage_board, auto_close=True, closed_status=t.status_closed)
        instance.add_dynamic_partitions("tenants", [t.tenant])
        resources = {
            "psa": PsaDatabase(database_url=store.engine.url.render_as_string(hide_password=False)),
            "huntress": HuntressClientFactory(secrets_dir=str(tmp_path / "secrets"), min_request_interval=0),
        }
        yield Env(instance, pipeline, t, sim_world, api, resources, url)
