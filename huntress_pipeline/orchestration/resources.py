"""Dagster resources: the PSA database and the Huntress client factory.

The database URL comes from HUNTRESS_PIPELINE_DATABASE_URL through EnvVar and
credentials from the secret store, so no secret is ever in run config, the
event log or the UI.
"""


from typing import Optional

from dagster import ConfigurableResource
from pydantic import PrivateAttr

from ..huntress.client import HuntressClient
from ..psa.actions import Pipeline
from ..psa.secrets import SecretStore, pipeline_home
from ..psa.store import PsaStore


class PsaDatabase(ConfigurableResource):
    """The Alga PSA database (PostgreSQL in production, SQLite for the demo)."""

    database_url: str
    _store: Optional[PsaStore] = PrivateAttr(default=None)

    @property
    def store(self) -> PsaStore:
        if self._store is None:
            self._store = PsaStore.from_url(self.database_url)
        return self._store

    def teardown_after_execution(self, context) -> None:  # noqa: ANN001 - dagster's signature
        if self._store is not None:
            self._store.dispose()
            self._store = None


class HuntressClientFactory(ConfigurableResource):
    """Builds each tenant's Huntress client from the secret store.

    ``secrets_dir`` defaults to $HUNTRESS_PIPELINE_HOME/secrets; ``min_request_interval``
    (seconds) defaults to HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL or 1.1.
    """

    secrets_dir: Optional[str] = None
    min_request_interval: Optional[float] = None

    @property
    def secrets(self) -> SecretStore:
        return SecretStore(self.secrets_dir or pipeline_home() / "secrets")

    def build(self, api_key: str, api_secret: str, base_url: str | None) -> HuntressClient:
        return HuntressClient(api_key, api_secret, base_url=base_url, min_request_interval=self.min_request_interval)

    def pipeline(self, psa: PsaDatabase) -> Pipeline:
        return Pipeline(psa.store, self.secrets, self.build)
