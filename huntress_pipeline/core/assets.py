"""Which Alga asset is the host of an incident: a pure choice among candidates."""

from __future__ import annotations

from typing import Protocol, Sequence


class AssetLike(Protocol):
    asset_id: str
    client_id: str
    name: str
    serial_number: str | None


def match_asset(client_id: str, hostname: str | None, serial_number: str | None, candidates: Sequence[AssetLike]) -> str | None:
    """The unique asset of the client named like the host; a serial number breaks a tie."""
    if not hostname:
        return None
    named = [c for c in candidates if c.client_id == client_id and c.name.lower() == hostname.lower()]
    if len(named) == 1:
        return named[0].asset_id
    if len(named) > 1 and serial_number:
        by_serial = [c for c in named if c.serial_number == serial_number]
        if len(by_serial) == 1:
            return by_serial[0].asset_id
    return None
