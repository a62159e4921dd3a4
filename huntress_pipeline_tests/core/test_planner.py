"""Spec: incidentPlan.test.ts, every lifecycle decision."""

import pytest

from huntress_pipeline.core.planner import (
    AppendNote,
    CreateTicket,
    ExistingAlert,
    OrgMapping,
    RecordOnly,
    Skip,
    is_closed_incident_status,
    plan_incident_action,
    priority_for_severity,
)
from huntress_pipeline.core.settings import parse_huntress_settings
from huntress_pipeline_tests.factories import incident

SETTINGS = parse_huntress_settings(
    {
        "boardId": "board-sec",
        "fallbackClientId": "client-fallback",
        "fallbackBoardId": "board-triage",
        "severityPriorityMap": {"critical": "p-crit", "high": "p-high", "low": "p-low"},
        "autoCloseTickets": False,
        "closedStatusId": "status-closed",
    }
)
MAPPED = OrgMapping(client_id="client-1", auto_create_tickets=True)
UNMAPPED = OrgMapping(client_id=None, auto_create_tickets=True)
ALERT_WITH_TICKET = ExistingAlert(
    ticket_id="ticket-1", status="sent", metadata={"lastProcessedUpdatedAt": "2026-06-09T10:00:00Z"}
)


def plan(inc=None, alert=None, mapping=MAPPED, settings=SETTINGS):
    return plan_incident_action(inc or incident(), alert, mapping, settings)


def test_treats_closed_dismissed_partner_dismissed_as_closed():
    assert is_closed_incident_status("closed")
    assert is_closed_incident_status("dismissed")
    assert is_closed_incident_status("partner_dismissed")
    assert not is_closed_incident_status("sent")
    assert not is_closed_incident_status("auto_remediating")


class TestNewIncidents:
    def test_creates_a_ticket_for_an_open_incident_in_a_mapped_org(self):
        assert plan() == CreateTicket(client_id="client-1", board_id="board-sec", unmapped=False)

    def test_routes_an_unmapped_org_to_the_fallback_client_and_triage_board(self):
        assert plan(mapping=UNMAPPED) == CreateTicket(client_id="client-fallback", board_id="board-triage", unmapped=True)

    def test_routes_a_missing_mapping_row_to_fallback_as_well(self):
        action = plan(mapping=None)
        assert isinstance(action, CreateTicket) and action.unmapped is True

    def test_records_only_when_the_mapping_row_explicitly_opted_out_mapped_or_not(self):
        assert plan(mapping=OrgMapping("client-1", False)) == RecordOnly("org_opted_out")
        assert plan(mapping=OrgMapping(None, False)) == RecordOnly("org_opted_out")

    def test_a_null_opt_in_flag_is_not_an_opt_out(self):
        assert plan(mapping=OrgMapping("client-1", None)).kind == "create_ticket"

    def test_records_already_closed_incidents_without_a_ticket_backfill_case(self):
        assert plan(incident(status="closed")) == RecordOnly("already_closed")
        assert plan(incident(status="partner_dismissed")) == RecordOnly("already_closed")

    def test_treats_auto_remediating_as_open(self):
        assert plan(incident(status="auto_remediating")).kind == "create_ticket"

    def test_skips_deleting_incidents_entirely(self):
        assert plan(incident(status="deleting")) == Skip("deleting")
        assert plan(incident(status="deleting"), alert=ALERT_WITH_TICKET) == Skip("deleting")

    def test_an_unknown_status_is_treated_as_open_never_dropped(self):
        assert plan(incident(status="escalated")).kind == "create_ticket"


class TestExistingAlerts:
    def test_skips_when_nothing_changed_since_last_processing(self):
        assert plan(alert=ALERT_WITH_TICKET) == Skip("unchanged")

    def test_skips_an_older_version_seen_again(self):
        assert plan(incident(updated_at="2026-06-09T09:00:00Z"), alert=ALERT_WITH_TICKET) == Skip("unchanged")

    def test_appends_a_note_when_updated_at_moved_forward(self):
        action = plan(incident(updated_at="2026-06-09T11:00:00Z"), alert=ALERT_WITH_TICKET)
        assert action == AppendNote(close=False, previous_status="sent")

    def test_appends_a_note_when_status_changed_even_if_updated_at_did_not_move(self):
        action = plan(incident(status="closed"), alert=ALERT_WITH_TICKET)
        assert isinstance(action, AppendNote) and action.previous_status == "sent"

    def test_metadata_stored_as_a_json_string_is_read_too(self):
        alert = ExistingAlert("sent", "t", '{"lastProcessedUpdatedAt": "2026-06-09T10:00:00Z"}')
        assert plan(alert=alert) == Skip("unchanged")

    def test_missing_last_processed_marker_counts_as_changed(self):
        assert plan(alert=ExistingAlert("sent", "t", {})).kind == "append_note"
        assert plan(alert=ExistingAlert("sent", "t", "not json")).kind == "append_note"

    def test_closes_the_ticket_only_when_auto_close_is_on_and_a_closed_status_is_configured(self):
        closing = incident(status="closed", updated_at="2026-06-09T11:00:00Z")
        assert plan(closing, alert=ALERT_WITH_TICKET) == AppendNote(close=False, previous_status="sent")
        on = SETTINGS.with_changes(auto_close_tickets=True)
        assert plan(closing, alert=ALERT_WITH_TICKET, settings=on) == AppendNote(close=True, previous_status="sent")
        no_status = on.with_changes(closed_status_id=None)
        assert plan(closing, alert=ALERT_WITH_TICKET, settings=no_status) == AppendNote(close=False, previous_status="sent")

    def test_dismissed_closes_as_well_but_an_unknown_status_never_closes(self):
        on = SETTINGS.with_changes(auto_close_tickets=True)
        later = "2026-06-09T11:00:00Z"
        assert plan(incident(status="dismissed", updated_at=later), alert=ALERT_WITH_TICKET, settings=on).close is True
        assert plan(incident(status="resolved", updated_at=later), alert=ALERT_WITH_TICKET, settings=on).close is False

    def test_updates_the_record_only_for_alert_rows_without_a_ticket(self):
        action = plan(incident(updated_at="2026-06-09T11:00:00Z"), alert=ExistingAlert("sent", None, {}))
        assert action == RecordOnly("no_linked_ticket")


@pytest.mark.parametrize(
    "severity, expected", [("critical", "p-crit"), ("high", "p-high"), ("low", "p-low"), ("severe", "p-crit"), ("unknown", "p-crit")]
)
def test_priority_follows_the_severity_map_and_unknown_severities_get_the_critical_priority(severity, expected):
    assert priority_for_severity(SETTINGS, severity) == expected
