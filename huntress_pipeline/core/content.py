"""Self-contained ticket content for Huntress incidents.

A technician should be able to triage from the ticket without opening the
Huntress portal. All portal URL construction is in build_portal_url.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import Agent, IncidentReport


def build_portal_url(subdomain: str | None, incident_id: int) -> str:
    host = f"{subdomain}.huntress.io" if subdomain else "huntress.io"
    return f"https://{host}/incident_reports/{incident_id}"


def build_ticket_title(incident: IncidentReport, *, unmapped: bool) -> str:
    prefix = "[Huntress] [Unmapped Org]" if unmapped else "[Huntress]"
    subject = incident.subject or f"{incident.severity} incident #{incident.id}"
    return f"{prefix} {subject}"


@dataclass(frozen=True)
class TicketBodyOptions:
    unmapped: bool
    org_name: str | None = None


def _org_label(incident: IncidentReport, org_name: str | None) -> str:
    if org_name:
        return org_name
    if incident.organization_id is not None:
        return str(incident.organization_id)
    return "unknown"


def build_ticket_body(
    incident: IncidentReport,
    agent: Agent | None,
    portal_url: str,
    *,
    unmapped: bool,
    org_name: str | None = None,
) -> str:
    lines: list[str] = []
    org = _org_label(incident, org_name)
    if unmapped:
        lines += [
            "> **Unmapped organization.** The Huntress organization",
            f'> "{org}" is not mapped to a client.',
            "> Map it with `huntress-pipeline orgs map`, then move this ticket.",
            "",
        ]
    lines += ["## Security Incident", "", f"**Severity:** {incident.severity}", f"**Status:** {incident.status}"]
    if incident.platform:
        lines.append(f"**Platform:** {incident.platform}")
    indicators = ", ".join(f"{t} ({incident.indicator_counts.get(t, '?')})" for t in incident.indicator_types)
    if indicators:
        lines.append(f"**Indicators:** {indicators}")
    if incident.sent_at:
        lines.append(f"**Reported:** {incident.sent_at}")
    lines.append("")
    if incident.summary:
        lines += ["## SOC Summary", "", incident.summary, ""]
    if agent is not None:
        lines += ["## Affected Host", ""]
        for label, value in (
            ("Hostname", agent.hostname),
            ("OS", agent.os),
            ("Internal IP", agent.ipv4_address),
            ("External IP", agent.external_ip),
            ("Serial Number", agent.serial_number),
            ("Last Callback", agent.last_callback_at),
        ):
            if value:
                lines.append(f"**{label}:** {value}")
        lines.append("")
    else:
        lines += ["## Organization", "", f"**Huntress Organization:** {org}", ""]
    remediations = incident.remediations
    if remediations is not None and remediations.items:
        lines += ["## Remediations", ""]
        for r in remediations.items:
            params = ", ".join(p.description for p in r.parameters)
            lines.append(f"- [{r.status or 'unknown'}] {r.action or r.type}{': ' + params if params else ''}")
        if remediations.has_more:
            lines.append(f"- \u2026and more ({remediations.total_count} total \u2014 see portal)")
        lines.append("")
    lines += [
        "## Links",
        "",
        f"[View in Huntress portal]({portal_url})",
        "",
        "---",
        "*This ticket was automatically created from a Huntress incident report.*",
    ]
    return "\n".join(lines)


def build_creation_note(incident: IncidentReport) -> str:
    return "\n".join(
        [
            "**Ticket created automatically from a Huntress incident report**",
            "",
            f"Incident ID: {incident.id}",
            f"Severity: {incident.severity}",
            f"Status: {incident.status}",
            f"Updated: {incident.updated_at}",
        ]
    )


def build_update_note(previous_status: str, incident: IncidentReport) -> str:
    lines = ["**Huntress incident updated**", ""]
    if previous_status != incident.status:
        lines.append(f"Status: {previous_status} \u2192 {incident.status}")
    else:
        lines.append(f"Incident updated in Huntress (status remains {incident.status}).")
    lines.append(f"Updated: {incident.updated_at}")
    if incident.closed_at:
        lines.append(f"Closed at: {incident.closed_at}")
    return "\n".join(lines)
