"""Exact-name auto-matching between Huntress organizations and Alga clients.

Only unambiguous, exact normalized matches auto-link; anything weaker is left
for a person to map.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, Mapping

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NON_ALNUM = re.compile(r"[^a-z0-9\s]+")
_SPACES = re.compile(r"\s+")


def normalize_org_name(name: str) -> str:
    """Lowercase, fold accents, drop apostrophes, punctuation to spaces, collapse spaces.

    ``"O'Brien & Sons LLC"`` -> ``"obrien sons llc"``; ``"ACME-INC"`` -> ``"acme inc"``.
    """
    folded = unicodedata.normalize("NFKD", name or "")
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    folded = _APOSTROPHES.sub("", folded)
    folded = _NON_ALNUM.sub(" ", folded)
    return _SPACES.sub(" ", folded).strip()


def find_exact_name_match(org_name: str, clients: Iterable[Mapping[str, Any]]) -> str | None:
    """The client_id whose client_name normalizes to the org name, if exactly one does."""
    target = normalize_org_name(org_name)
    if not target:
        return None
    matches = [c["client_id"] for c in clients if normalize_org_name(str(c["client_name"])) == target]
    return str(matches[0]) if len(matches) == 1 else None
