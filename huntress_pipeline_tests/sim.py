"""Helpers wiring a HuntressClient to the simulator, in-process or over real HTTP."""

from __future__ import annotations

import contextlib
from typing import Iterator

from huntress_pipeline.huntress.client import HuntressClient
from huntress_pipeline.simulator import SimulatorApi, SimulatorTransport, SimWorld, running_server


def in_process_client(world: SimWorld, api: SimulatorApi, **kwargs) -> HuntressClient:
    """A client on the world's virtual clock: throttles and Retry-After advance time, not sleep."""
    kwargs.setdefault("min_request_interval", 0)
    return HuntressClient(
        world.credentials.api_key,
        world.credentials.api_secret,
        base_url="http://simulator.invalid",
        transport=SimulatorTransport(api, sleep=world.clock.sleep),
        clock=world.clock.monotonic,
        sleep=world.clock.sleep,
        **kwargs,
    )


@contextlib.contextmanager
def http_client(world: SimWorld, api: SimulatorApi, **kwargs) -> Iterator[HuntressClient]:
    """A client talking to the simulator's HTTP server on a free loopback port."""
    kwargs.setdefault("min_request_interval", 0)
    with running_server(api) as base_url:
        client = HuntressClient(world.credentials.api_key, world.credentials.api_secret, base_url=base_url, **kwargs)
        try:
            yield client
        finally:
            client.close()


def in_process_builder(world: SimWorld, api: SimulatorApi, **kwargs):
    """A Pipeline client_builder serving every client from the in-process simulator."""

    def build(api_key: str, api_secret: str, base_url: str | None) -> HuntressClient:
        kwargs.setdefault("min_request_interval", 0)
        return HuntressClient(
            api_key, api_secret, base_url=base_url or "http://simulator.invalid",
            transport=SimulatorTransport(api, sleep=world.clock.sleep),
            clock=world.clock.monotonic, sleep=world.clock.sleep, **kwargs,
        )

    return build
