"""The ``faults`` section a scenario may have: worker crashes and stragglers (docs/faults.md).

Times are in seconds whatever the family's unit; :meth:`FaultsConfig.spec` converts them for
the model. A scenario without the section runs, and dumps, exactly as before it existed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from schedlab.scenarios.schema import Strict
from schedlab.sim.faults import FaultSpec

__all__ = ["FaultsConfig", "CrashConfig", "StragglerConfig", "SparkFaultsConfig"]

_UNIT_PER_S = {"s": 1.0, "ms": 1000.0}


class CrashConfig(Strict):
    """Workers that crash: at given times, at a rate, or both; back after a repair time or never.

    A crash loses the task the worker runs (it must run again, from the start) and whatever
    waits at the worker; see the family's page for where those go.
    """

    at_s: tuple[Annotated[float, Field(ge=0)], ...] = Field((), description="times of crashes given one by one (s)")
    workers: tuple[Annotated[int, Field(ge=0)], ...] | None = Field(
        None, description="the worker of each crash of at_s, one per time (default: drawn uniformly)"
    )
    rate_per_s: float = Field(
        0.0, ge=0, description="Poisson rate of crashes of each worker while it is up (crashes per s); 0: none"
    )
    repair_s: float | None = Field(
        None, gt=0, description="time a crashed worker needs to come back (s); null: it never does"
    )

    @model_validator(mode="after")
    def _one_worker_per_time(self) -> CrashConfig:
        if self.workers is not None and len(self.workers) != len(self.at_s):
            raise ValueError(
                f"workers has {len(self.workers)} entries but at_s has {len(self.at_s)}; give one per time"
            )
        return self


class StragglerConfig(Strict):
    """Task attempts that take longer than they should."""

    probability: float = Field(0.0, ge=0, le=1, description="chance that a task attempt straggles (0-1)")
    factor: float = Field(3.0, ge=1, description="how many times longer a straggler takes (ratio)")


class FaultsConfig(Strict):
    """Faults injected into a run, drawn from their own stream of the run's seed."""

    crash: CrashConfig = Field(CrashConfig(), description="worker crashes and repairs")
    stragglers: StragglerConfig = Field(StragglerConfig(), description="slow task attempts")

    def spec(self, time_unit: str) -> FaultSpec:
        """The faults in the model's unit (``"s"`` or ``"ms"``)."""
        k = _UNIT_PER_S[time_unit]
        c, s = self.crash, self.stragglers
        return FaultSpec(
            crash_at=tuple(t * k for t in c.at_s),
            crash_workers=c.workers,
            crash_rate=c.rate_per_s / k,
            repair=c.repair_s * k if c.repair_s is not None else None,
            straggler_probability=s.probability,
            straggler_factor=s.factor,
            lost_on_move_probability=getattr(self, "lost_on_move", 0.0),
        )


class SparkFaultsConfig(FaultsConfig):
    """Spark's faults: those of every family, and executors lost while they move between jobs."""

    # Below 1: with every move lost, a job that needs an executor to move would never get one.
    lost_on_move: float = Field(
        0.0,
        ge=0,
        lt=1,
        description=(
            "chance that an executor is lost during a move to another job (0 to below 1), at a "
            "uniform point of the move; it comes back after crash.repair_s, or never"
        ),
    )
