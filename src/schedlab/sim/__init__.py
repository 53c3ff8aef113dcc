"""The simulator core: engine, simulation loop, actions, trace, shared components.

It imports only NumPy and the standard library, and never names a family: each family's
model lives in its own package under :mod:`schedlab.families`.
"""

from schedlab.sim.actions import Assign, Enqueue, Place
from schedlab.sim.engine import EmptySchedule, Engine
from schedlab.sim.simulation import Simulation
from schedlab.sim.trace import Trace, load_trace

__all__ = ["Assign", "Enqueue", "EmptySchedule", "Engine", "Place", "Simulation", "Trace", "load_trace"]
