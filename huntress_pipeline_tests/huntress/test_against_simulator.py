"""The client against the simulator, in-process and over real HTTP: shapes, pagination,
auth, the 60/min budget, 429 and 5xx recovery, faults."""

import time

import pytest

from huntress_pipeline.core.cursor import CursorWalkPage, collect_incidents_since
from huntress_pipeline.huntress.errors import (
    HuntressAuthError,
    HuntressRequestError,
    HuntressResponseError,
    HuntressServerError,
)
from huntress_pipeline.simulator import SimulatorApi, SimWorld
from huntress_pipeline_tests.sim import http_client, in_process_client


@pytest.fixture
def world():
    return SimWorld(seed=7, organizations=6, agents=40, incidents=1200)


@pytest.fixture(params=["in_process", "http"])
def connect(request, world):
    """Yields a function making a client for an api, in both front ends."""
    stack = []

    def make(api, **kwargs):
        if request.param == "in_process":
            return in_process_client(world, api, **kwargs)
        cm = http_client(world, api, **kwargs)
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in stack:
        cm.__exit__(None, None, None)


def test_pages_through_every_incident_newest_first(world, connect):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    client = connect(api)
    seen, token, pages = [], None, 0
    while True:
        page = client.list_incident_reports_page(page_token=token)
        pages += 1
        seen += page.incidents
        token = page.next_page_token
        if not token:
            break
    assert pages == 3  # 1200 incidents, 500 a page
    assert len({i.id for i in seen}) == 1200
    keys = [(i.updated_at, i.id) for i in seen]
    assert keys == sorted(keys, reverse=True)


def test_directory_endpoints_unwrap_and_paginate(world, connect):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    client = connect(api)
    assert client.get_account().subdomain == "demo-msp"
    assert len(client.list_organizations()) == 6
    assert len(client.list_agents()) == 40
    agent = client.get_agent(5001)
    assert agent.hostname and agent.organization_id in world.organizations
    assert client.get_agent(1) is None and client.get_organization(1) is None
    assert client.get_organization(101).name == world.organizations[101]["name"]


def test_wrong_credentials_get_401_and_a_clear_error(world, connect):
    client = connect(SimulatorApi(world))
    world.credentials.api_secret = "rotated"  # the secret was rotated in the portal
    with pytest.raises(HuntressAuthError, match="HTTP 401"):
        client.get_account()


def test_limit_outside_1_to_500_is_a_400(world, connect):
    client = connect(SimulatorApi(world, rate_limit_per_minute=None))
    for limit in (0, 501):
        with pytest.raises(HuntressRequestError, match="HTTP 400"):
            client.list_incident_reports_page(limit=limit)


def test_a_forged_page_token_is_a_400(world, connect):
    with pytest.raises(HuntressRequestError, match="invalid page_token"):
        connect(SimulatorApi(world)).list_incident_reports_page(page_token="forged")


def test_generated_data_is_realistic_and_deterministic():
    a, b = SimWorld(seed=3, incidents=200), SimWorld(seed=3, incidents=200, clock=None)
    strip = lambda w: [{k: v for k, v in i.items() if k not in ("sent_at", "updated_at", "closed_at", "status_updated_at")} for i in w.incidents.values()]
    assert strip(a) == strip(b)
    incidents = list(a.incidents.values())
    m365 = [i for i in incidents if i["platform"] == "microsoft_365"]
    assert m365 and all(i["agent_id"] is None for i in m365)
    assert {i["severity"] for i in incidents} == {"low", "high", "critical"}
    assert {"sent", "closed"} <= {i["status"] for i in incidents}
    with_agent = next(i for i in incidents if i["agent_id"])
    host = a.agents[with_agent["agent_id"]]["hostname"]
    org = a.organizations[with_agent["organization_id"]]["name"]
    assert with_agent["subject"] == f"{with_agent['severity'].upper()} - Incident on {host} ({org})"
    assert any(i["remediations"]["has_more"] for i in incidents)


def test_client_stays_inside_the_rate_limit_on_its_own(world):
    """150 requests with the default 1.1 s spacing never draw a 429 from a 60/min simulator."""
    api = SimulatorApi(world, rate_limit_per_minute=60)
    client = in_process_client(world, api, min_request_interval=1.1)
    start = world.clock.monotonic()
    for _ in range(150):
        client.get_account()
    assert api.status_counts[429] == 0
    assert api.status_counts[200] == 150
    assert world.clock.monotonic() - start >= 149 * 1.1 - 1e-6


def test_client_stays_inside_the_rate_limit_even_without_spacing(world):
    api = SimulatorApi(world, rate_limit_per_minute=60)
    client = in_process_client(world, api, min_request_interval=0)
    for _ in range(130):
        client.get_account()
    assert api.status_counts[429] == 0


@pytest.mark.parametrize("retry_after", [True, False])
def test_client_recovers_from_the_simulators_429(world, retry_after):
    """A client that does not throttle (a budget shared with another tool) gets 429s and recovers."""
    api = SimulatorApi(world, rate_limit_per_minute=10, retry_after=retry_after)
    client = in_process_client(world, api, requests_per_minute=None, min_request_interval=0)
    for _ in range(25):
        assert client.get_account().name == "Demo MSP"
    assert api.status_counts[429] >= 1
    assert api.status_counts[200] == 25


def test_client_recovers_from_429_over_http(world):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("rate_limit", on_request=2, retry_after="1")
    with http_client(world, api, requests_per_minute=None) as client:
        started = time.monotonic()
        client.get_account()
        client.get_account()
        assert time.monotonic() - started >= 1.0
        assert client.request_count == 3
    assert api.status_counts[429] == 1


def test_client_recovers_from_5xx_on_the_nth_request(world, connect):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("server_error", on_request=1, status=502)
    api.inject("server_error", on_request=2, status=503)
    client = connect(api)
    assert client.get_account().id == world.account["id"]
    assert client.request_count == 3
    assert api.status_counts[502] == 1 and api.status_counts[503] == 1


def test_persistent_5xx_ends_in_a_server_error(world, connect):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("server_error", rate=1.0)
    client = connect(api)
    client._sleep = lambda s: None  # the backoff itself is covered elsewhere
    with pytest.raises(HuntressServerError):
        client.get_account()


def test_malformed_json_fault_becomes_a_clear_error(world, connect):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("malformed", on_request=1)
    with pytest.raises(HuntressResponseError, match="malformed JSON"):
        connect(api).list_incident_reports_page()


def test_slow_responses_beyond_the_timeout_are_retried(world):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    api.inject("slow", on_request=1, delay=1.5)
    with http_client(world, api, timeout=0.5) as client:
        client._jitter = lambda: 0.0
        assert client.get_account().name == "Demo MSP"
        assert client.request_count == 2


def test_faults_at_a_rate_fire_about_that_often(world):
    api = SimulatorApi(world, rate_limit_per_minute=None, seed=1)
    fault = api.inject("server_error", rate=0.3)
    client = in_process_client(world, api)
    for _ in range(100):
        client.get_account()
    assert 15 <= fault.fired <= 60
    assert api.status_counts[200] == 100


def test_mutations_move_incidents_to_the_front_of_the_walk(world):
    api = SimulatorApi(world, rate_limit_per_minute=None)
    client = in_process_client(world, api)
    cursor = max(i["updated_at"] for i in world.incidents.values())
    world.clock.advance(minutes=5)
    target = next(iter(world.incidents))
    world.close_incident(target)
    new_id = world.new_incident(platform="microsoft_365")
    gone = list(world.incidents)[5]
    world.mark_deleting(gone)
    org = world.new_organization("Brand New Client")

    def fetch(token):
        page = client.list_incident_reports_page(page_token=token)
        return CursorWalkPage(page.incidents, page.next_page_token)

    result = collect_incidents_since(fetch, cursor_iso=cursor, backfill_days=7, now=world.clock.now())
    by_id = {i.id: i for i in result.incidents}
    assert by_id[target].status == "closed" and by_id[target].closed_at
    assert by_id[new_id].agent_id is None and by_id[new_id].platform == "microsoft_365"
    assert by_id[gone].status == "deleting"
    assert result.pages_fetched == 1
    assert client.get_organization(org).name == "Brand New Client"


def test_requests_without_any_auth_header_are_refused(world):
    import httpx

    with __import__("huntress_pipeline.simulator", fromlist=["running_server"]).running_server(SimulatorApi(world)) as url:
        response = httpx.get(url + "/v1/account")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
