"""Building a tenant's Huntress client from the secret store (never from run config)."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from ..huntress.client import HuntressClient
from .secrets import SecretStore
from .store import IntegrationRecord


class ClientFactory(Protocol):
    def __call__(self, integration: IntegrationRecord) -> HuntressClient | None:
        """A client for the integration, or None when its credentials are missing."""


class SecretStoreClientFactory:
    """Reads the tenant's key and secret from the secret store; ``client_options`` go to HuntressClient."""

    def __init__(self, secrets: SecretStore | None = None, **client_options: Any):
        self.secrets = secrets or SecretStore()
        self.client_options = client_options

    def __call__(self, integration: IntegrationRecord) -> HuntressClient | None:
        credentials = self.secrets.credentials(integration.tenant)
        if credentials is None:
            return None
        return HuntressClient(
            credentials.api_key, credentials.api_secret, base_url=integration.instance_url, **self.client_options
        )


ClientBuilder = Callable[[str, str, str | None], HuntressClient]


def default_client_builder(api_key: str, api_secret: str, base_url: str | None) -> HuntressClient:
    return HuntressClient(api_key, api_secret, base_url=base_url)
