"""Spec: ticketContent.test.ts."""

import pytest

from huntress_pipeline.core.content import (
    build_creation_note,
    build_portal_url,
    build_ticket_body,
    build_ticket_title,
    build_update_note,
)
from huntress_pipeline.core.models import Agent, IncidentReport
from huntress_pipeline_tests.factories import incident_json

INCIDENT = IncidentReport.from_api(
    incident_json(
        42,
        "2026-06-09T10:00:00Z",
        agent_id=7,
        organization_id=9,
        subject="CRITICAL - Incident on SRV01 (Acme)",
        summary="Huntress detected a malicious scheduled task.",
        severity="critical",
        platform="windows",
        indicator_types=["footholds", "process_detections"],
        indicator_counts={"footholds": 1, "process_detections": 2},
        remediations={
            "total_count": 1,
            "has_more": False,
            "items": [
                {"id": 1, "type": "manual", "action": "Delete File", "status": "pending",
                 "parameters": [{"name": "path", "description": "c:\\bad\\task"}]}
            ],
        },
        status_updated_at="2026-06-09T10:00:00Z",
    )
)
AGENT = Agent(
    id=7, hostname="SRV01", os="Windows Server 2022", ipv4_address="10.0.0.5",
    external_ip="203.0.113.9", serial_number="SN-123", last_callback_at="2026-06-09T09:55:00Z",
)
URL = build_portal_url("acme", INCIDENT.id)


def test_portal_url_uses_the_account_subdomain_when_known():
    assert build_portal_url("acme", 42) == "https://acme.huntress.io/incident_reports/42"


def test_portal_url_falls_back_to_the_bare_portal_domain_without_a_subdomain():
    assert build_portal_url(None, 42) == "https://huntress.io/incident_reports/42"


def test_title_prefixes_the_huntress_subject():
    assert build_ticket_title(INCIDENT, unmapped=False) == "[Huntress] CRITICAL - Incident on SRV01 (Acme)"


def test_title_adds_an_unmapped_org_marker():
    assert build_ticket_title(INCIDENT, unmapped=True) == "[Huntress] [Unmapped Org] CRITICAL - Incident on SRV01 (Acme)"


def test_title_is_synthesized_when_subject_is_missing():
    from dataclasses import replace

    assert build_ticket_title(replace(INCIDENT, subject=None), unmapped=False) == "[Huntress] critical incident #42"


def test_body_contains_severity_summary_indicators_host_remediations_and_portal_link():
    body = build_ticket_body(INCIDENT, AGENT, URL, unmapped=False)
    for expected in (
        "**Severity:** critical",
        "**Status:** sent",
        "**Platform:** windows",
        "Huntress detected a malicious scheduled task.",
        "footholds (1)",
        "process_detections (2)",
        "**Hostname:** SRV01",
        "**Internal IP:** 10.0.0.5",
        "**External IP:** 203.0.113.9",
        "**Serial Number:** SN-123",
        "Delete File",
        "c:\\bad\\task",
        "https://acme.huntress.io/incident_reports/42",
    ):
        assert expected in body
    assert "not mapped" not in body


def test_body_shows_the_organization_section_instead_of_host_when_no_agent():
    body = build_ticket_body(INCIDENT, None, URL, unmapped=False, org_name="Acme")
    assert "**Hostname:**" not in body
    assert "**Huntress Organization:** Acme" in body


def test_body_prepends_an_unmapped_org_warning_when_unmapped():
    body = build_ticket_body(INCIDENT, AGENT, URL, unmapped=True, org_name="Acme")
    assert body.startswith("> **Unmapped organization.**")
    assert "not mapped to a client" in body
    assert '"Acme"' in body


def test_body_names_the_org_id_when_the_name_is_unknown():
    body = build_ticket_body(INCIDENT, None, URL, unmapped=True)
    assert '"9" is not mapped' in body


def test_body_says_and_more_when_remediations_are_cut():
    data = incident_json(1, remediations={"total_count": 7, "has_more": True, "items": [{"id": 1, "type": "manual"}]})
    body = build_ticket_body(IncidentReport.from_api(data), None, URL, unmapped=False)
    assert "- [unknown] manual" in body
    assert "\u2026and more (7 total" in body


def test_indicator_without_a_count_shows_a_question_mark():
    data = incident_json(1, indicator_types=["footholds"], indicator_counts={})
    assert "footholds (?)" in build_ticket_body(IncidentReport.from_api(data), None, URL, unmapped=False)


def test_creation_note_records_the_raw_incident_identifiers():
    note = build_creation_note(INCIDENT)
    assert "Incident ID: 42" in note
    assert "Severity: critical" in note
    assert "Status: sent" in note
    assert "Updated: 2026-06-09T10:00:00Z" in note


def test_update_note_describes_a_status_transition_with_an_arrow():
    from dataclasses import replace

    note = build_update_note("sent", replace(INCIDENT, status="closed", closed_at="2026-06-09T12:00:00Z"))
    assert "Status: sent \u2192 closed" in note
    assert "Closed at: 2026-06-09T12:00:00Z" in note


def test_update_note_still_produced_when_only_updated_at_changed():
    note = build_update_note("sent", INCIDENT)
    assert "updated" in note
    assert "status remains sent" in note


@pytest.mark.parametrize("severity", ["informational", ""])
def test_unknown_severity_is_shown_as_sent(severity):
    data = incident_json(5, severity=severity, subject=None)
    inc = IncidentReport.from_api(data)
    body = build_ticket_body(inc, None, URL, unmapped=False)
    assert f"**Severity:** {inc.severity}" in body
    assert build_ticket_title(inc, unmapped=False) == f"[Huntress] {inc.severity} incident #5"
