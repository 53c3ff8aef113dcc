"""The simulator: engine, family models, actions and traces. Imports only NumPy."""

from schedlab.sim.actions import Assign
from schedlab.sim.engine import EmptySchedule, Engine
from schedlab.sim.simulator import RunResult, Simulation, simulate
from schedlab.sim.trace import Trace, load_trace

__all__ = ["Assign", "EmptySchedule", "Engine", "RunResult", "Simulation", "Trace", "load_trace", "simulate"]
