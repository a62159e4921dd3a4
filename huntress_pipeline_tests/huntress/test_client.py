"""Spec: huntressClient.test.ts (auth header, unwrap, pagination, 404 -> None, 429, throttle),
plus the client's own error handling, against a scripted httpx.MockTransport."""

import base64
import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from huntress_pipeline.huntress.client import HuntressClient, min_request_interval_from_env, parse_retry_after
from huntress_pipeline.huntress.errors import (
    HuntressAuthError,
    HuntressRateLimitError,
    HuntressRequestError,
    HuntressResponseError,
    HuntressServerError,
    HuntressTransportError,
)
from huntress_pipeline.simulator import SimClock


class Script:
    """A MockTransport answering from a list of responses, recording requests."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request):
        self.requests.append(request)
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(item, Exception):
            raise item
        status, body, *headers = item
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers=headers[0] if headers else {})


@pytest.fixture
def clock():
    return SimClock(datetime(2026, 6, 9, tzinfo=timezone.utc))


def make_client(script, clock, **kwargs):
    kwargs.setdefault("min_request_interval", 0)
    return HuntressClient(
        "key", "secret", transport=httpx.MockTransport(script), clock=clock.monotonic, sleep=clock.sleep,
        jitter=lambda: 0.0, **kwargs,
    )


ACCOUNT = {"account": {"id": 1, "name": "Acme", "subdomain": "acme"}}


def test_sends_basic_auth_and_uses_the_default_base_url(clock):
    script = Script((200, ACCOUNT))
    client = make_client(script, clock)
    client.get_account()
    request = script.requests[0]
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"key:secret").decode()
    assert str(request.url) == "https://api.huntress.io/v1/account"


def test_get_account_unwraps_the_account_envelope(clock):
    account = make_client(Script((200, ACCOUNT)), clock).get_account()
    assert (account.id, account.name, account.subdomain) == (1, "Acme", "acme")


def test_list_organizations_follows_page_tokens_and_unwraps_the_organizations_key(clock):
    script = Script(
        (200, {"organizations": [{"id": 1, "name": "A"}], "pagination": {"next_page_token": "t2"}}),
        (200, {"organizations": [{"id": 2, "name": "B"}], "pagination": {}}),
    )
    orgs = make_client(script, clock).list_organizations()
    assert [o.id for o in orgs] == [1, 2]
    assert len(script.requests) == 2
    assert script.requests[1].url.params["page_token"] == "t2"
    assert script.requests[0].url.params["limit"] == "500"


def test_list_agents_pages_500_at_a_time(clock):
    script = Script(
        (200, {"agents": [{"id": 1, "hostname": "A"}], "pagination": {"next_page_token": "n"}}),
        (200, {"agents": [{"id": 2, "hostname": "B"}]}),
    )
    agents = make_client(script, clock).list_agents()
    assert [a.hostname for a in agents] == ["A", "B"]
    assert all(r.url.params["limit"] == "500" for r in script.requests)


def test_list_incident_reports_page_requests_updated_at_desc_with_limit_500(clock):
    script = Script((200, {"incident_reports": [], "pagination": {}}))
    page = make_client(script, clock).list_incident_reports_page(page_token="abc")
    params = script.requests[0].url.params
    assert script.requests[0].url.path == "/v1/incident_reports"
    assert dict(params) == {"limit": "500", "sort_field": "updated_at", "sort_direction": "desc", "page_token": "abc"}
    assert page.incidents == [] and page.next_page_token is None


def test_get_agent_unwraps_the_agent_key_and_returns_none_on_404(clock):
    script = Script((200, {"agent": {"id": 7, "hostname": "SRV01"}}), (404, {"error": "Not Found"}))
    client = make_client(script, clock)
    assert client.get_agent(7).hostname == "SRV01"
    assert client.get_agent(8) is None


def test_get_organization_unwraps_the_organization_key_and_returns_none_on_404(clock):
    script = Script((200, {"organization": {"id": 9, "name": "Acme"}}), (404, {"error": "Not Found"}))
    client = make_client(script, clock)
    assert client.get_organization(9).name == "Acme"
    assert client.get_organization(10) is None


def test_retries_429_responses_using_retry_after_then_succeeds(clock):
    client = make_client(Script((429, {}, {"Retry-After": "3"}), (200, ACCOUNT)), clock)
    assert client.get_account().id == 1
    assert clock.slept == pytest.approx(3.0)
    assert client.request_count == 2


def test_retry_after_as_an_http_date(clock):
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert parse_retry_after(format_datetime(when, usegmt=True)) == pytest.approx(30, abs=2)
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") == 0


def test_gives_up_after_exhausting_429_retries(clock):
    client = make_client(Script((429, {})), clock)
    with pytest.raises(HuntressRateLimitError) as caught:
        client.get_account()
    assert caught.value.status == 429
    assert client.request_count == 3
    assert clock.slept == pytest.approx(30 + 60)  # backoff without Retry-After outlasts the 60 s window


def test_throttles_consecutive_requests_to_the_configured_minimum_interval(clock):
    client = make_client(Script((200, ACCOUNT)), clock, min_request_interval=1.0)
    client.get_account()
    client.get_account()
    assert clock.slept == pytest.approx(1.0)


def test_never_sends_more_than_the_budget_in_any_60_seconds(clock):
    client = make_client(Script((200, ACCOUNT)), clock, requests_per_minute=5)
    times = []
    for _ in range(12):
        client.get_account()
        times.append(clock.monotonic())
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 60.0


def test_min_request_interval_comes_from_the_environment():
    assert min_request_interval_from_env({}) == 1.1
    assert min_request_interval_from_env({"HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL": "0"}) == 0.0
    with pytest.raises(ValueError, match="HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL"):
        min_request_interval_from_env({"HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL": "fast"})


def test_5xx_retries_with_exponential_backoff_then_succeeds(clock):
    client = make_client(Script((503, {}), (502, {}), (200, ACCOUNT)), clock)
    assert client.get_account().name == "Acme"
    assert clock.slept == pytest.approx(0.5 + 1.0)


def test_5xx_gives_up_after_bounded_retries(clock):
    client = make_client(Script((500, {})), clock)
    with pytest.raises(HuntressServerError, match="HTTP 500 on /v1/account after 4 attempts"):
        client.get_account()
    assert client.request_count == 4


def test_transport_errors_retry_and_then_raise_a_clear_error(clock):
    client = make_client(Script(httpx.ConnectError("refused")), clock)
    with pytest.raises(HuntressTransportError, match="did not answer /v1/account"):
        client.get_account()
    client = make_client(Script(httpx.ReadTimeout("slow"), (200, ACCOUNT)), clock)
    assert client.get_account().id == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_name_what_to_check_and_never_the_secret(clock, status):
    with pytest.raises(HuntressAuthError) as caught:
        make_client(Script((status, {"error": "no"})), clock).get_account()
    message = str(caught.value)
    assert "API key and secret" in message and "base URL" in message
    assert "secret" not in message.replace("API key and secret", "")
    assert caught.value.status == status


def test_malformed_json_is_a_clear_error(clock):
    with pytest.raises(HuntressResponseError, match="malformed JSON for /v1/account"):
        make_client(Script((200, b"{not json")), clock).get_account()
    with pytest.raises(HuntressResponseError, match="expected a JSON object"):
        make_client(Script((200, [1, 2])), clock).get_account()
    with pytest.raises(HuntressResponseError, match="no list under 'incident_reports'"):
        make_client(Script((200, {"incident_reports": "x"})), clock).list_incident_reports_page()


def test_other_4xx_is_a_request_error(clock):
    with pytest.raises(HuntressRequestError, match="HTTP 400"):
        make_client(Script((400, {"error": "bad limit"})), clock).list_incident_reports_page()


def test_unreadable_records_are_skipped_and_counted(clock):
    script = Script((200, {"incident_reports": [{"id": "x"}, 5, {"id": 2, "updated_at": "2026-01-01T00:00:00Z"}]}))
    client = make_client(script, clock)
    page = client.list_incident_reports_page()
    assert [i.id for i in page.incidents] == [2]
    assert client.skipped_records == 2


def test_missing_credentials_are_refused_up_front():
    with pytest.raises(HuntressAuthError, match="required"):
        HuntressClient("", "secret")


def test_repr_never_shows_credentials(clock):
    client = make_client(Script((200, ACCOUNT)), clock)
    assert "key" not in repr(client).replace("base_url", "") and "secret" not in repr(client)
