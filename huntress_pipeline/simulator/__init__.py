"""A stand-in Huntress API for the demo and the tests (the real one is not reachable here)."""

from .api import Fault, SimulatorApi
from .server import make_server, running_server
from .transport import SimulatorTransport
from .world import Credentials, RealClock, SimClock, SimWorld

__all__ = [
    "Credentials", "Fault", "RealClock", "SimClock", "SimWorld", "SimulatorApi", "SimulatorTransport",
    "make_server", "running_server",
]
