"""The one interface every scheduler implements, classical or learned."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from schedlab.errors import ConfigError
from schedlab.sim.actions import Action

__all__ = ["Scheduler", "check_family"]


class Scheduler(ABC):
    """Decides; never mutates the simulation.

    At each decision point the simulator calls :meth:`decide` with a read-only view of the
    state and applies the returned actions in order, validating each. An empty list means
    "nothing more this round": the remaining free workers stay unassigned until the next
    decision point.

    Subclasses take their knobs as explicit keyword arguments and only store them in
    ``__init__``; per-episode state is set up in :meth:`reset`.

    Attributes:
        name: The registered name.
        families: Scenario families this scheduler understands.
    """

    name: ClassVar[str] = ""
    families: ClassVar[tuple[str, ...]] = ()

    def reset(self, rng: np.random.Generator) -> None:  # noqa: B027 - optional hook
        """Start of an episode. ``rng`` is this scheduler's own stream, seeded from the run."""

    @abstractmethod
    def decide(self, view: Any) -> Sequence[Action]:
        """Return the actions to take now (possibly none)."""

    def get_params(self) -> dict[str, Any]:
        """The constructor's keyword arguments, for run manifests."""
        import inspect

        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self" and hasattr(self, k)}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


def check_family(scheduler: Any, family: str) -> None:
    """Refuse to run a scheduler on a family it does not declare in ``families``.

    Raises:
        ConfigError: The scheduler declares no family, or not this one.
    """
    declared = tuple(getattr(scheduler, "families", ()) or ())
    if family in declared:
        return
    name = getattr(scheduler, "name", "") or type(scheduler).__name__
    if not declared:
        problem = f"scheduler {name!r} declares no families; set families = ({family!r},) on its class"
    else:
        problem = f"scheduler {name!r} runs on {', '.join(declared)}, not on {family!r} scenarios"
    raise ConfigError(problem, field="--scheduler")
