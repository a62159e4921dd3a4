"""The simulated Huntress account: generated data, a clock, and mutations.

Everything is deterministic for a seed. Records are kept in the API's JSON
shapes, so the front ends serve them as they are.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..core.timeutil import format_timestamp


class SimClock:
    """Virtual time: ``now()`` for timestamps, ``monotonic()``/``sleep()`` for throttles.

    ``sleep`` advances the clock instead of waiting, so a rate limit is
    accounted rather than slept. Thread-safe.
    """

    def __init__(self, start: datetime | None = None):
        start = start or datetime.now(timezone.utc).replace(microsecond=0)
        self._now = start.astimezone(timezone.utc)
        self._lock = threading.Lock()
        self.slept = 0.0

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def monotonic(self) -> float:
        return self.now().timestamp()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.advance(seconds)


class RealClock(SimClock):
    """Wall-clock time with real sleeps (for the HTTP server run by hand)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def advance(self, seconds: float = 0, **delta: float) -> datetime:  # pragma: no cover - not used
        raise RuntimeError("a real clock cannot be moved")

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


_COMPANIES = [
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Enterprises",
    "Hooli", "Vandelay Industries", "Soylent Foods", "Tyrell Systems", "Cyberdyne Labs",
    "Wonka Confections", "Gringotts Credit Union", "Oceanic Airlines", "Pied Piper",
    "Dunder Mifflin", "Aperture Science", "Black Mesa Research", "Monarch Solutions",
    "Prestige Worldwide", "Sterling Cooper", "Bluth Company", "Los Pollos Hermanos", "O'Brien & Sons LLC",
]
_INDICATORS = ["footholds", "monitored_files", "process_detections", "ransomware_canaries", "antivirus_detections",
               "mde_detections", "siem_detections", "identity_threats"]
_OSES = {"windows": ["Windows 11 Pro", "Windows 10 Enterprise", "Windows Server 2022", "Windows Server 2019"],
         "darwin": ["macOS 15.1", "macOS 14.6"], "linux": ["Ubuntu 24.04", "RHEL 9.4"]}
_SUMMARIES = [
    "Huntress detected a malicious scheduled task persisting a remote access tool.",
    "A suspicious PowerShell download cradle was executed by an Office process.",
    "Ransomware canary files were modified; the host was isolated.",
    "An unauthorized login from an unusual country was detected for a Microsoft 365 user.",
    "Credential dumping behaviour (LSASS access) was observed.",
    "A known-bad binary was found in a user's Downloads folder and quarantined.",
]
_REMEDIATION_ACTIONS = ["Delete File", "Kill Process", "Delete Scheduled Task", "Delete Registry Value", "Isolate Host",
                        "Reset User Password", "Revoke Sessions"]


@dataclass
class Credentials:
    api_key: str = "sim-api-key"
    api_secret: str = "sim-api-secret"


class SimWorld:
    """One Huntress account with organizations, agents and incident reports."""

    def __init__(
        self,
        seed: int = 1,
        organizations: int = 5,
        agents: int = 20,
        incidents: int = 30,
        *,
        clock: SimClock | None = None,
        credentials: Credentials | None = None,
        history_days: float = 5.0,
        account_name: str = "Demo MSP",
        subdomain: str = "demo-msp",
    ):
        self.rng = random.Random(seed)
        self.clock = clock or SimClock()
        self.credentials = credentials or Credentials()
        self.lock = threading.RLock()
        self.account = {"id": 1000 + seed, "name": account_name, "subdomain": subdomain}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.agents: dict[int, dict[str, Any]] = {}
        self.incidents: dict[int, dict[str, Any]] = {}
        self._org_ids = itertools.count(101)
        self._agent_ids = itertools.count(5001)
        self._incident_ids = itertools.count(90001)
        self._sorted_cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for index in range(organizations):
            base = _COMPANIES[index % len(_COMPANIES)]
            name = base if index < len(_COMPANIES) else f"{base} {index // len(_COMPANIES) + 1}"
            self.new_organization(name)
        org_ids = list(self.organizations)
        for index in range(agents):
            self.new_agent(org_ids[index % len(org_ids)] if org_ids else None)
        now = self.clock.now()
        for _ in range(incidents):
            when = now - timedelta(seconds=self.rng.uniform(60, history_days * 86400))
            status = self.rng.choices(["sent", "closed", "dismissed", "auto_remediating"], [70, 18, 6, 6])[0]
            self.new_incident(status=status, at=when)

    # -- generation ------------------------------------------------------------------
    def _stamp(self, at: datetime | None = None) -> str:
        return format_timestamp((at or self.clock.now()).replace(microsecond=0))

    def _touch(self) -> None:
        self._sorted_cache.clear()

    def new_organization(self, name: str | None = None) -> int:
        with self.lock:
            org_id = next(self._org_ids)
            name = name or f"New Client {org_id}"
            key = "".join(ch for ch in name.lower() if ch.isalnum())[:20] or f"org{org_id}"
            self.organizations[org_id] = {
                "id": org_id, "name": name, "key": key, "agents_count": 0,
                "created_at": self._stamp(), "updated_at": self._stamp(),
            }
            self._touch()
            return org_id

    def rename_organization(self, org_id: int, name: str) -> None:
        with self.lock:
            self.organizations[org_id].update(name=name, updated_at=self._stamp())
            self._touch()

    def new_agent(self, org_id: int | None = None, hostname: str | None = None, platform: str | None = None) -> int:
        with self.lock:
            agent_id = next(self._agent_ids)
            if org_id is None:
                org_id = self.rng.choice(list(self.organizations))
            org = self.organizations[org_id]
            platform = platform or self.rng.choices(["windows", "darwin", "linux"], [80, 15, 5])[0]
            prefix = "".join(w[0] for w in org["name"].split()[:3]).upper() or "HOST"
            kind = "SRV" if self.rng.random() < 0.2 else "WS"
            hostname = hostname or f"{prefix}-{kind}{agent_id % 1000:03d}"
            self.agents[agent_id] = {
                "id": agent_id,
                "organization_id": org_id,
                "hostname": hostname,
                "platform": platform,
                "os": self.rng.choice(_OSES[platform]),
                "ipv4_address": f"10.{org_id % 256}.{self.rng.randint(0, 255)}.{self.rng.randint(2, 254)}",
                "external_ip": f"203.0.113.{self.rng.randint(1, 254)}",
                "serial_number": f"SN-{self.rng.randint(100000, 999999)}",
                "last_callback_at": self._stamp(),
                "version": "0.14.2",
            }
            org["agents_count"] += 1
            self._touch()
            return agent_id

    def new_incident(
        self,
        organization_id: int | None = None,
        agent_id: int | None = None,
        *,
        severity: str | None = None,
        status: str = "sent",
        platform: str | None = None,
        at: datetime | None = None,
        subject: str | None = None,
    ) -> int:
        """A new incident report; platform 'microsoft_365' makes one without an agent."""
        with self.lock:
            rng = self.rng
            incident_id = next(self._incident_ids)
            if agent_id is None and platform != "microsoft_365":
                if organization_id is not None:
                    candidates = [a for a in self.agents.values() if a["organization_id"] == organization_id]
                else:
                    candidates = list(self.agents.values())
                if candidates and rng.random() > 0.1:
                    agent_id = rng.choice(candidates)["id"]
                else:
                    platform = "microsoft_365"
            agent = self.agents.get(agent_id) if agent_id is not None else None
            if organization_id is None:
                organization_id = agent["organization_id"] if agent else rng.choice(list(self.organizations))
            platform = platform or (agent["platform"] if agent else "microsoft_365")
            org_name = self.organizations.get(organization_id, {}).get("name", f"Org {organization_id}")
            severity = severity or rng.choices(["low", "high", "critical"], [40, 45, 15])[0]
            types = rng.sample(_INDICATORS[:5] if agent else _INDICATORS[5:], k=rng.randint(1, 2))
            host = agent["hostname"] if agent else "Microsoft 365"
            stamp = self._stamp(at)
            items = [
                {
                    "id": incident_id * 10 + n,
                    "type": rng.choice(["manual", "assisted", "automatic"]),
                    "action": rng.choice(_REMEDIATION_ACTIONS),
                    "status": rng.choice(["pending", "completed", "approved"]),
                    "parameters": [{"name": "path", "description": f"C:\\ProgramData\\evil{n}.exe"}],
                    "approved_at": None,
                    "completed_at": None,
                }
                for n in range(rng.randint(0, 3))
            ]
            total = len(items) + (rng.randint(1, 4) if items and rng.random() < 0.2 else 0)
            closed = status in ("closed", "dismissed", "partner_dismissed")
            # an incident generated closed was closed some hours after it was sent (not in the future)
            closed_at = min((at or self.clock.now()) + timedelta(hours=rng.uniform(0.5, 36)), self.clock.now()) if closed else None
            last = self._stamp(closed_at) if closed_at else stamp
            self.incidents[incident_id] = {
                "id": incident_id,
                "account_id": self.account["id"],
                "agent_id": agent["id"] if agent else None,
                "organization_id": organization_id,
                "subject": subject or f"{severity.upper()} - Incident on {host} ({org_name})",
                "summary": rng.choice(_SUMMARIES),
                "body": None,
                "severity": severity,
                "status": status,
                "platform": platform,
                "indicator_types": types,
                "indicator_counts": {t: rng.randint(1, 5) for t in types},
                "remediations": {"total_count": total, "has_more": total > len(items), "items": items},
                "sent_at": stamp,
                "closed_at": last if closed else None,
                "status_updated_at": last,
                "updated_at": last,
            }
            self._touch()
            return incident_id

    # -- mutations -------------------------------------------------------------------
    def update_incident(self, incident_id: int, **fields: Any) -> dict[str, Any]:
        """Change fields of an incident; updated_at moves to the clock's now."""
        with self.lock:
            incident = self.incidents[incident_id]
            stamp = self._stamp()
            if "status" in fields and fields["status"] != incident["status"]:
                fields.setdefault("status_updated_at", stamp)
                if fields["status"] in ("closed", "dismissed", "partner_dismissed"):
                    fields.setdefault("closed_at", stamp)
            incident.update(fields)
            incident["updated_at"] = stamp
            self._touch()
            return dict(incident)

    def close_incident(self, incident_id: int) -> dict[str, Any]:
        return self.update_incident(incident_id, status="closed")

    def dismiss_incident(self, incident_id: int) -> dict[str, Any]:
        return self.update_incident(incident_id, status="dismissed")

    def mark_deleting(self, incident_id: int) -> dict[str, Any]:
        return self.update_incident(incident_id, status="deleting")

    def delete_incident(self, incident_id: int) -> None:
        with self.lock:
            self.incidents.pop(incident_id, None)
            self._touch()

    def random_activity(self, new: int = 2, updates: int = 2, closes: int = 1) -> dict[str, list[int]]:
        """A burst of plausible SOC activity; returns the ids touched by kind."""
        with self.lock:
            done: dict[str, list[int]] = {"new": [], "updated": [], "closed": []}
            for _ in range(new):
                done["new"].append(self.new_incident())
            open_ids = sorted(i for i, inc in self.incidents.items() if inc["status"] in ("sent", "auto_remediating"))
            for incident_id in self.rng.sample(open_ids, k=min(updates, len(open_ids))):
                current = self.incidents[incident_id]
                self.update_incident(incident_id, summary=current["summary"] + " Additional activity observed.")
                done["updated"].append(incident_id)
            open_ids = sorted(set(open_ids) - set(done["updated"]))
            for incident_id in self.rng.sample(open_ids, k=min(closes, len(open_ids))):
                self.close_incident(incident_id)
                done["closed"].append(incident_id)
            return done

    # -- queries (used by the API) ---------------------------------------------------
    def sorted_incidents(self, field: str, direction: str) -> list[dict[str, Any]]:
        with self.lock:
            key = (field, direction)
            cached = self._sorted_cache.get(key)
            if cached is None:
                cached = sorted(
                    self.incidents.values(),
                    key=lambda inc: (inc.get(field) or "", inc["id"]),
                    reverse=direction == "desc",
                )
                self._sorted_cache[key] = cached
            return cached
