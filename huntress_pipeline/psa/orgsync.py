"""Organization sync: one mapping row per Huntress organization, names refreshed on
every sync, exact normalized name matches auto-linked, manual mappings never touched."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from ..core.models import Organization
from ..core.orgmatch import find_exact_name_match
from .history import record_organization_versions
from .store import PsaStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrgSyncResult:
    total: int
    created: int
    updated: int
    auto_matched: int


def sync_organizations(store: PsaStore, tenant: str, integration_id: str, organizations: Iterable[Organization]) -> OrgSyncResult:
    organizations = list(organizations)
    orgs = {str(o.id): o.name for o in organizations}
    existing = store.mappings_for(tenant, integration_id, orgs)
    new_orgs = {org_id: name for org_id, name in orgs.items() if org_id not in existing}
    renames = {
        org_id: name for org_id, name in orgs.items()
        if org_id in existing and existing[org_id].external_organization_name != name
    }
    # Auto-match every unmapped row of the integration, not only those in this sync.
    clients = store.active_clients(tenant)
    unmapped_names = {org_id: orgs.get(org_id, m.external_organization_name) for org_id, m in
                      ((m.external_organization_id, m) for m in store.list_mappings(tenant, integration_id)) if m.client_id is None}
    unmapped_names.update(new_orgs)
    auto_matches = {}
    for org_id, name in unmapped_names.items():
        client_id = find_exact_name_match(name or "", clients)
        if client_id:
            auto_matches[org_id] = client_id
    store.apply_org_sync(
        tenant, integration_id, new_orgs=new_orgs, renames=renames, auto_matches=auto_matches, seen=list(orgs),
    )
    record_organization_versions(store, tenant, organizations)
    result = OrgSyncResult(total=len(orgs), created=len(new_orgs), updated=len(orgs) - len(new_orgs), auto_matched=len(auto_matches))
    log.info("organization sync for tenant %s: %s", tenant, result)
    return result
