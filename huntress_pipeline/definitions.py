"""The one entry point workspace.yaml loads: ``huntress_pipeline.definitions:defs``."""

from typing import Any, Mapping

from dagster import Definitions, EnvVar, in_process_executor

from .orchestration.assets import ALL_ASSETS
from .orchestration.checks import ALL_CHECKS
from .orchestration.jobs import huntress_directory_job, huntress_incident_job, huntress_reports_job
from .orchestration.reporting import REPORT_ASSETS
from .orchestration.resources import HuntressClientFactory, PsaDatabase
from .orchestration.schedules import huntress_directory_sync, huntress_incident_poll
from .orchestration.sensors import huntress_reports_sensor, huntress_routing_config_sensor, huntress_tenant_sensor


def build_definitions(resources: Mapping[str, Any]) -> Definitions:
    """The definitions with the given ``psa`` and ``huntress`` resources (tests and the demo pass their own)."""
    return Definitions(
        assets=[*ALL_ASSETS, *REPORT_ASSETS],
        asset_checks=ALL_CHECKS,
        jobs=[huntress_incident_job, huntress_directory_job, huntress_reports_job],
        schedules=[huntress_incident_poll, huntress_directory_sync],
        sensors=[huntress_tenant_sensor, huntress_routing_config_sensor, huntress_reports_sensor],
        resources=dict(resources),
        # Materializations launched from the UI outside the jobs run in one process too.
        executor=in_process_executor,
    )


defs = build_definitions({
    "psa": PsaDatabase(database_url=EnvVar("HUNTRESS_PIPELINE_DATABASE_URL")),
    "huntress": HuntressClientFactory(),
})
