"""Spec: settings.test.ts (parseHuntressSettings, isRoutingConfigComplete, prefill, isPollDue)."""

import json
from datetime import datetime, timezone

import pytest

from huntress_pipeline.core.settings import (
    SeverityPriorityMap,
    is_poll_due,
    is_routing_config_complete,
    missing_routing_fields,
    parse_huntress_settings,
    prefill_severity_priority_map,
    settings_to_json,
)


class TestParseHuntressSettings:
    def test_applies_defaults_to_an_empty_object(self):
        s = parse_huntress_settings({})
        assert s.poll_interval_minutes == 5
        assert s.backfill_days == 7
        assert s.auto_close_tickets is False
        assert s.severity_priority_map.as_dict() == {}
        assert s.incident_cursor is None

    def test_accepts_a_json_string_jsonb_may_arrive_serialized(self):
        assert parse_huntress_settings(json.dumps({"pollIntervalMinutes": 10})).poll_interval_minutes == 10

    def test_tolerates_null_undefined_garbage(self):
        assert parse_huntress_settings(None).poll_interval_minutes == 5
        assert parse_huntress_settings(None).backfill_days == 7
        assert parse_huntress_settings("not json").auto_close_tickets is False
        assert parse_huntress_settings(42).backfill_days == 7
        assert parse_huntress_settings("[1, 2]").poll_interval_minutes == 5

    def test_clamps_poll_interval_to_1_60_and_backfill_days_to_1_30(self):
        assert parse_huntress_settings({"pollIntervalMinutes": 0}).poll_interval_minutes == 1
        assert parse_huntress_settings({"pollIntervalMinutes": 999}).poll_interval_minutes == 60
        assert parse_huntress_settings({"backfillDays": 0}).backfill_days == 1
        assert parse_huntress_settings({"backfillDays": 90}).backfill_days == 30

    def test_non_numeric_intervals_fall_back_to_defaults(self):
        s = parse_huntress_settings({"pollIntervalMinutes": "soon", "backfillDays": True})
        assert (s.poll_interval_minutes, s.backfill_days) == (5, 7)
        assert parse_huntress_settings({"pollIntervalMinutes": "15"}).poll_interval_minutes == 15
        assert parse_huntress_settings({"pollIntervalMinutes": float("nan")}).poll_interval_minutes == 5

    def test_preserves_configured_routing_fields(self):
        s = parse_huntress_settings(
            {
                "boardId": "b1",
                "fallbackClientId": "c1",
                "fallbackBoardId": "b2",
                "severityPriorityMap": {"critical": "p1", "high": "p2", "low": "p3"},
                "autoCloseTickets": True,
                "closedStatusId": "s1",
                "accountSubdomain": "acme",
                "incidentCursor": "2026-06-01T00:00:00Z",
            }
        )
        assert s.board_id == "b1"
        assert s.fallback_client_id == "c1"
        assert s.fallback_board_id == "b2"
        assert s.severity_priority_map.critical == "p1"
        assert s.auto_close_tickets is True
        assert s.closed_status_id == "s1"
        assert s.account_subdomain == "acme"
        assert s.incident_cursor == "2026-06-01T00:00:00Z"

    def test_only_literal_true_enables_auto_close(self):
        assert parse_huntress_settings({"autoCloseTickets": "true"}).auto_close_tickets is False

    def test_round_trips_through_the_spec_json_keys(self):
        doc = {
            "accountName": "Acme MSP",
            "boardId": "b1",
            "categoryId": "cat",
            "severityPriorityMap": {"critical": "p1", "low": "p3"},
            "pollIntervalMinutes": 10,
            "backfillDays": 3,
            "autoCloseTickets": True,
        }
        out = settings_to_json(parse_huntress_settings(doc))
        assert out == {**doc}
        assert parse_huntress_settings(out) == parse_huntress_settings(doc)


COMPLETE = parse_huntress_settings(
    {
        "boardId": "b1",
        "fallbackClientId": "c1",
        "fallbackBoardId": "b2",
        "severityPriorityMap": {"critical": "p1", "high": "p2", "low": "p3"},
    }
)


class TestIsRoutingConfigComplete:
    def test_true_when_board_fallback_client_board_and_all_three_severities_are_set(self):
        assert is_routing_config_complete(COMPLETE) is True
        assert missing_routing_fields(COMPLETE) == []

    @pytest.mark.parametrize(
        "changes, missing",
        [
            ({"board_id": None}, ["board"]),
            ({"fallback_client_id": None}, ["fallback client"]),
            ({"fallback_board_id": None}, ["fallback board"]),
            ({"severity_priority_map": SeverityPriorityMap(critical="p1", high="p2")}, ["low priority"]),
        ],
    )
    def test_false_when_any_required_piece_is_missing(self, changes, missing):
        settings = COMPLETE.with_changes(**changes)
        assert is_routing_config_complete(settings) is False
        assert missing_routing_fields(settings) == missing

    def test_empty_settings_name_everything_missing(self):
        assert missing_routing_fields(parse_huntress_settings({})) == [
            "board", "fallback client", "fallback board", "critical priority", "high priority", "low priority",
        ]


class TestPrefillSeverityPriorityMap:
    def test_matches_by_name_case_insensitively_with_preference_order(self):
        priorities = [
            {"priority_id": "p-med", "priority_name": "Medium"},
            {"priority_id": "p-high", "priority_name": "HIGH"},
            {"priority_id": "p-crit", "priority_name": "Critical"},
        ]
        assert prefill_severity_priority_map(priorities).as_dict() == {
            "critical": "p-crit", "high": "p-high", "low": "p-med",
        }

    def test_prefers_urgent_for_critical_when_critical_is_absent(self):
        assert prefill_severity_priority_map([{"priority_id": "p-urg", "priority_name": "Urgent"}]).critical == "p-urg"

    def test_prefers_critical_over_urgent_and_medium_over_low(self):
        m = prefill_severity_priority_map(
            [
                {"priority_id": "u", "priority_name": "Urgent"},
                {"priority_id": "c", "priority_name": " critical "},
                {"priority_id": "l", "priority_name": "Low"},
                {"priority_id": "m", "priority_name": "Medium"},
            ]
        )
        assert (m.critical, m.low) == ("c", "m")

    def test_leaves_severities_unset_when_nothing_matches(self):
        assert prefill_severity_priority_map([{"priority_id": "x", "priority_name": "Weird"}]).as_dict() == {}


NOW = datetime(2026, 6, 9, 12, 0, tzinfo=timezone.utc)


class TestIsPollDue:
    def test_true_when_never_synced(self):
        assert is_poll_due(None, 5, NOW) is True
        assert is_poll_due("", 5, NOW) is True

    def test_true_when_the_interval_has_elapsed(self):
        assert is_poll_due("2026-06-09T11:54:59Z", 5, NOW) is True
        assert is_poll_due("2026-06-09T11:55:00Z", 5, NOW) is True

    def test_false_when_within_the_interval(self):
        assert is_poll_due("2026-06-09T11:58:00Z", 5, NOW) is False

    def test_accepts_datetime_input_for_last_sync_at(self):
        assert is_poll_due(datetime(2026, 6, 9, 11, 0, tzinfo=timezone.utc), 5, NOW) is True
        # a naive datetime (SQLite) is UTC
        assert is_poll_due(datetime(2026, 6, 9, 11, 59), 5, NOW) is False

    def test_unparseable_last_sync_is_due(self):
        assert is_poll_due("yesterday", 5, NOW) is True
