"""The Huntress directory as the pipeline knows it: agents and organizations.

Agent details for a new ticket come from the stored agents snapshot; only an
agent the snapshot lacks costs an API request (a single GET), and when more
agents are missing than listing them all would cost, the snapshot is
refreshed by listing instead (500 a page). Organizations first seen on an
incident are looked up once and get an (unmapped) mapping row.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable

from ..core.models import Agent
from ..huntress.client import HuntressClient
from ..huntress.errors import HuntressError
from .history import record_agent_versions
from .store import PsaStore

log = logging.getLogger(__name__)
PAGE = 500


def refresh_agents(store: PsaStore, tenant: str, integration_id: str, client: HuntressClient) -> int:
    """List every agent (500 a page) into the snapshot; returns how many."""
    total = 0
    for page in client.iter_agent_pages():
        total += store.upsert_agents(tenant, integration_id, page)
        record_agent_versions(store, tenant, page)
    return total


class Directory:
    def __init__(self, store: PsaStore, tenant: str, integration_id: str, client: HuntressClient | None):
        self.store = store
        self.tenant = tenant
        self.integration_id = integration_id
        self.client = client

    def agents(self, agent_ids: Iterable[int]) -> dict[int, Agent]:
        wanted = list(dict.fromkeys(agent_ids))
        if not wanted:
            return {}
        found = self.store.agents_snapshot(self.tenant, self.integration_id, wanted)
        missing = [a for a in wanted if a not in found]
        if not missing or self.client is None:
            return found
        known = self.store.agent_snapshot_count(self.tenant, self.integration_id)
        list_cost = max(1, math.ceil((known + len(missing)) / PAGE))
        fetched: list[Agent] = []
        try:
            if len(missing) > list_cost:
                log.info("%d agents missing from the snapshot: refreshing it by listing", len(missing))
                refresh_agents(self.store, self.tenant, self.integration_id, self.client)
                found.update(self.store.agents_snapshot(self.tenant, self.integration_id, missing))
                return found
            for agent_id in missing:
                agent = self.client.get_agent(agent_id)
                if agent is not None:
                    fetched.append(agent)
                    found[agent_id] = agent
        except HuntressError as exc:
            # As the spec: agent details are an enrichment, never a reason to fail an incident.
            log.warning("could not fetch agent details (%s); tickets go without host details", exc)
        self.store.upsert_agents(self.tenant, self.integration_id, fetched)
        record_agent_versions(self.store, self.tenant, fetched)
        return found

    def organization_names(self, org_ids: Iterable[str]) -> dict[str, str]:
        """Names for organizations the mappings do not know yet (a placeholder if Huntress has none).

        One GET each, or one listing (500 a page) when that costs fewer requests.
        """
        wanted = list(dict.fromkeys(org_ids))
        found: dict[str, str] = {}
        if self.client is not None and wanted:
            known, _ = self.store.mapping_counts(self.tenant, self.integration_id)
            try:
                if len(wanted) > max(1, math.ceil((known + len(wanted)) / PAGE)):
                    listed = {str(o.id): o.name for page in self.client.iter_organization_pages() for o in page}
                    found = {o: listed[o] for o in wanted if o in listed}
                else:
                    for org_id in wanted:
                        org = self.client.get_organization(int(org_id))
                        if org is not None:
                            found[org_id] = org.name
            except (HuntressError, ValueError) as exc:
                log.warning("could not look up Huntress organizations %s (%s)", wanted[:5], exc)
        return {o: found.get(o) or f"Huntress org {o}" for o in wanted}
