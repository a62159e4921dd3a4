"""The Huntress records accept unknown fields and values (Huntress data is untrusted)."""

import pytest

from huntress_pipeline.core.models import Agent, IncidentReport, Organization, Remediations
from huntress_pipeline_tests.factories import incident_json


def test_unknown_fields_are_kept_aside_not_rejected():
    inc = IncidentReport.from_api(incident_json(1, new_field={"x": 1}))
    assert inc.extra == {"new_field": {"x": 1}}
    assert Agent.from_api({"id": 3, "hostname": "H", "tags": ["a"]}).extra == {"tags": ["a"]}


def test_unknown_enum_values_are_kept_and_reported():
    inc = IncidentReport.from_api(incident_json(1, severity="SEVERE", status="escalated", platform="chromeos"))
    assert (inc.severity, inc.status, inc.platform) == ("severe", "escalated", "chromeos")
    assert inc.unknown_values() == ["severity='severe'", "status='escalated'", "platform='chromeos'"]
    assert IncidentReport.from_api(incident_json(2)).unknown_values() == []


def test_wrongly_typed_values_degrade_instead_of_crashing():
    inc = IncidentReport.from_api(
        incident_json(1, agent_id="7", organization_id=True, indicator_types="footholds",
                      indicator_counts={"footholds": "x", "other": 2}, remediations="none")
    )
    assert inc.agent_id == 7
    assert inc.organization_id is None
    assert inc.indicator_types == ()
    assert inc.indicator_counts == {"other": 2}
    assert inc.remediations is None


def test_missing_severity_and_status_become_unknown():
    data = incident_json(1)
    del data["severity"], data["status"]
    inc = IncidentReport.from_api(data)
    assert (inc.severity, inc.status) == ("unknown", "unknown")


def test_a_record_without_an_id_is_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="without a numeric id"):
        IncidentReport.from_api({"updated_at": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValueError):
        Organization.from_api({"name": "x"})


def test_remediations_is_an_object_with_total_count_has_more_items():
    rem = Remediations.from_api({"total_count": 3, "has_more": True, "items": [{"id": 1, "type": "manual"}]})
    assert (rem.total_count, rem.has_more, len(rem.items)) == (3, True, 1)
    assert Remediations.from_api([{"id": 1, "type": "x"}]).total_count == 1


def test_updated_parses_z_and_offsets():
    assert IncidentReport.from_api(incident_json(1, "2026-06-09T10:00:00.123Z")).updated.microsecond == 123000
    assert IncidentReport.from_api(incident_json(1, "2026-06-09T12:00:00+02:00")).updated.hour == 10
    assert IncidentReport.from_api(incident_json(1, "nope")).updated is None
