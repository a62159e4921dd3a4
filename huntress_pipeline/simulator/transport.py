"""An in-process httpx transport serving the simulator (no sockets)."""

from __future__ import annotations

import time
from typing import Callable

import httpx

from .api import SimulatorApi


class SimulatorTransport(httpx.BaseTransport):
    def __init__(self, api: SimulatorApi, *, sleep: Callable[[float], None] | None = None):
        self.api = api
        self._sleep = sleep or time.sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.api.handle(
            request.method,
            request.url.path,
            request.url.query.decode(),
            dict(request.headers),
        )
        if response.delay:
            self._sleep(response.delay)
        return httpx.Response(response.status, headers=response.headers, content=response.body, request=request)
