"""A spool for long incident walks: pages go to a file as they arrive, so a walk of
10,000 incidents holds one page in memory, not the whole batch.

``SpoolSink`` is the cursor walk's sink; ``SpooledIncidents`` (what it seals into)
is small and picklable (a folder and the id -> version map), so it can be handed
from one Dagster step to the next while the pages stay on disk.
"""

from __future__ import annotations

import pickle
import shutil
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Iterator

from ..core.models import IncidentReport


class SpoolSink:
    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._pages = 0

    def add(self, rows: list[IncidentReport]) -> None:
        with open(self.folder / f"page-{self._pages:06d}.pickle", "wb") as handle:
            pickle.dump(rows, handle, protocol=pickle.HIGHEST_PROTOCOL)
        self._pages += 1

    def seal(self, keep: dict[int, datetime]) -> "SpooledIncidents":
        return SpooledIncidents(str(self.folder), self._pages, keep)


class SpooledIncidents:
    """Iterates the spooled pages oldest first (pages in reverse, rows in reverse), one per id."""

    def __init__(self, folder: str, pages: int, keep: dict[int, datetime]):
        self.folder = folder
        self.pages = pages
        self.keep = keep

    def __len__(self) -> int:
        return len(self.keep)

    def __iter__(self) -> Iterator[IncidentReport]:
        seen: set[int] = set()
        for number in reversed(range(self.pages)):
            path = Path(self.folder) / f"page-{number:06d}.pickle"
            try:
                with open(path, "rb") as handle:
                    rows = pickle.load(handle)
            except FileNotFoundError:
                raise FileNotFoundError(f"the incident spool {self.folder} lost page {number}: walk again") from None
            for row in reversed(rows):
                if row.id not in seen and self.keep.get(row.id) == row.updated:
                    seen.add(row.id)
                    yield row

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def new_spool_folder(root: Path | str, label: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:80]
    return Path(root) / f"{safe}-{uuid.uuid4().hex[:8]}"


def clean_old_spools(root: Path | str, older_than_seconds: float = 7 * 86400) -> int:
    """Delete spool folders left by failed runs once they are old."""
    root = Path(root)
    if not root.exists():
        return 0
    removed = 0
    for folder in root.iterdir():
        if folder.is_dir() and time.time() - folder.stat().st_mtime > older_than_seconds:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
