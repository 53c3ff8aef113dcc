"""schedlab: simulate, compare and learn schedulers for heterogeneous distributed compute.

``import schedlab`` loads only the simulator core (NumPy); scenarios, metrics and learned parts
load when first used.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("schedlab")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    # running
    "simulate",
    "Simulation",
    "RunResult",
    # building blocks
    "Engine",
    "Trace",
    "load_trace",
    "Assign",
    "Place",
    "Enqueue",
    "Scheduler",
    # configuration
    "load_scenario",
    "make_scheduler",
    # results
    "summarize",
    "check_trace",
]

_LAZY = {
    "simulate": "schedlab.runs",
    "Simulation": "schedlab.sim.simulation",
    "RunResult": "schedlab.runs",
    "Engine": "schedlab.sim.engine",
    "Trace": "schedlab.sim.trace",
    "load_trace": "schedlab.runs.traces",
    "Assign": "schedlab.sim.actions",
    "Place": "schedlab.sim.actions",
    "Enqueue": "schedlab.sim.actions",
    "Scheduler": "schedlab.schedulers.base",
    "load_scenario": "schedlab.scenarios.loader",
    "make_scheduler": ("schedlab.schedulers.registry", "make"),
    "summarize": "schedlab.metrics.summary",
    "check_trace": "schedlab.metrics.checker",
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'schedlab' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    return getattr(import_module(module), attr)


def __dir__() -> list[str]:
    return sorted(__all__)
