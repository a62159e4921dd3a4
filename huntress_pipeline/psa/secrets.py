"""The secret store: Huntress API credentials, outside the database.

One file per secret under ``$HUNTRESS_PIPELINE_HOME/secrets/<tenant>/``, the
folder 0700 and the files 0600 (readable by the owner only), written
atomically. Values are never logged or printed; ``repr`` hides them.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

API_KEY = "huntress_api_key"
API_SECRET = "huntress_api_secret"
HOME_ENV = "HUNTRESS_PIPELINE_HOME"

_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def pipeline_home() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".huntress-pipeline").expanduser()


@dataclass(frozen=True)
class HuntressCredentials:
    api_key: str
    api_secret: str

    def __repr__(self) -> str:
        return "HuntressCredentials(api_key=***, api_secret=***)"

    __str__ = __repr__


class SecretStore:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else pipeline_home() / "secrets"

    def __repr__(self) -> str:
        return f"SecretStore({str(self.root)!r})"

    def _dir(self, tenant: str) -> Path:
        if not _SAFE.match(tenant):
            raise ValueError(f"tenant id {tenant!r} is not a valid secret folder name")
        return self.root / tenant

    def set(self, tenant: str, name: str, value: str) -> None:
        if not _SAFE.match(name):
            raise ValueError(f"secret name {name!r} is not valid")
        folder = self._dir(tenant)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        os.chmod(folder, 0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value)
            os.replace(tmp, folder / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, tenant: str, name: str) -> str | None:
        path = self._dir(tenant) / name
        try:
            return path.read_text(encoding="utf-8") or None
        except FileNotFoundError:
            return None

    def delete(self, tenant: str, name: str) -> None:
        (self._dir(tenant) / name).unlink(missing_ok=True)

    # -- the Huntress pair ---------------------------------------------------------
    def set_credentials(self, tenant: str, credentials: HuntressCredentials) -> None:
        self.set(tenant, API_KEY, credentials.api_key)
        self.set(tenant, API_SECRET, credentials.api_secret)

    def credentials(self, tenant: str) -> HuntressCredentials | None:
        key, secret = self.get(tenant, API_KEY), self.get(tenant, API_SECRET)
        if not key or not secret:
            return None
        return HuntressCredentials(key, secret)

    def delete_credentials(self, tenant: str) -> None:
        self.delete(tenant, API_KEY)
        self.delete(tenant, API_SECRET)
        folder = self._dir(tenant)
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
