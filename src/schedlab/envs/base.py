"""The shared machinery of schedlab's Gymnasium environments: an episode is one :class:`Simulation`.

A family's environment subclasses :class:`SimulationEnv` and supplies four hooks: the
observation of a view, the zero observation returned once the episode is over, the simulator
actions an agent's action stands for, and the reward earned while the simulation ran from one
decision point to the next. The episode loop, seeding and the end-of-episode ``info`` (the
trace and its metrics) are here, so every family's environment behaves the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium
import numpy as np

from schedlab.errors import ConfigError, InvalidActionError
from schedlab.sim.simulation import Simulation

__all__ = ["SimulationEnv", "resolve_scenario"]

# Episode seeds drawn from the environment's generator stay below the training split's floor
# plus this range, so they never collide with the validation (1000-1099) or test (1-20) seeds.
_TRAIN_SEED_FLOOR = 10_000
_TRAIN_SEED_RANGE = 2**31 - 1 - _TRAIN_SEED_FLOOR


def resolve_scenario(family: str, scenario: Any, overrides: Mapping[str, Any] | None = None) -> Any:
    """A validated scenario of ``family`` from a preset name, a YAML path, a mapping or a scenario.

    Args:
        family: The family the environment simulates.
        scenario: A preset name or YAML path (``load_scenario``), a full scenario mapping
            (``parse_scenario``; ``family`` may be left out), or an already validated scenario.
        overrides: Dotted-key overrides (``{"cluster.speeds": [1, 10]}``), applied after loading.

    Raises:
        ConfigError: The scenario is invalid, or of another family.
    """
    from schedlab.scenarios.loader import load_scenario, parse_scenario

    if isinstance(scenario, str):
        out = load_scenario(scenario, dict(overrides) if overrides else None)
    else:
        if isinstance(scenario, Mapping):
            out = parse_scenario({"family": family, **scenario})
        else:
            out = scenario
        if overrides:
            # Round-trip through the mapping so overrides get the same validation as a file's.
            data = out.model_dump(mode="json")
            for key, value in overrides.items():
                if value is None:
                    continue
                node = data
                *parents, leaf = key.split(".")
                for p in parents:
                    node = node.setdefault(p, {})
                node[leaf] = value
            out = parse_scenario(data)
    got = getattr(out, "family", None)
    if got != family:
        raise ConfigError(f"this environment simulates the {family} family, got a {got} scenario", field="family")
    return out


class SimulationEnv(gymnasium.Env):
    """A Gymnasium environment whose episodes are :class:`~schedlab.sim.simulation.Simulation` runs.

    ``reset(seed=...)`` seeds the environment's generator (``self.np_random``), and the episode's
    simulation seed is drawn from it, in the training range (10,000 and up), so that a seeded
    reset gives the same episode and successive resets give different ones. To run a given
    episode, say a test seed of the evaluation protocol, pass ``options={"episode_seed": s}``.

    ``step`` applies the agent's action at the current decision point and runs the simulation to
    the next one. An episode terminates when no decision point is left (the workload has run to
    its end); it is never truncated. The last step's ``info`` holds the episode's ``trace`` and
    its ``metrics`` (:func:`schedlab.metrics.summary.summarize`).

    Args:
        scenario: See :func:`resolve_scenario`; default the family's preset.
        overrides: Dotted-key overrides of the scenario.
        render_mode: Only None: the environments do not render.

    Attributes:
        scenario: The validated scenario.
        sim: The running episode's simulation (None before the first reset).
        episode_seed: The running episode's simulation seed.
    """

    #: The family simulated; subclasses set it.
    family: ClassVar[str]
    #: The preset used when no scenario is given.
    default_scenario: ClassVar[str]
    #: The trace metric (a key of ``summarize``) that minus the episode's reward sum follows;
    #: training validates on it.
    metric: ClassVar[str]
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self, scenario: Any = None, overrides: Mapping[str, Any] | None = None, render_mode: str | None = None
    ) -> None:
        if render_mode is not None:
            raise ValueError(f"{type(self).__name__} does not render; render_mode must be None, got {render_mode!r}")
        self.render_mode = None
        chosen = self.default_scenario if scenario is None else scenario
        self.scenario = resolve_scenario(self.family, chosen, overrides)
        # Measured decision time charges the wall time of a scheduler's decide() call; here the
        # agent decides outside the simulation, between steps, so there is nothing to time.
        if str(getattr(self.scenario, "decision_time", "off")) == "measured":
            raise ConfigError(
                "decision_time measured times a scheduler's decide() call, and an environment has "
                "none (the agent acts between steps); use off or fixed:<seconds>",
                field="decision_time",
            )
        self.sim: Simulation | None = None
        self.episode_seed: int | None = None

    # -- hooks ---------------------------------------------------------------------------

    def _begin_episode(self) -> None:
        """Clear per-episode state; called after the new simulation is built."""

    def _observation(self, view: Any) -> Any:
        """The observation of a decision point's view."""
        raise NotImplementedError

    def _final_observation(self) -> Any:
        """The observation returned with ``terminated=True`` (no decision point is left)."""
        raise NotImplementedError

    def _actions(self, view: Any, action: Any) -> list:
        """The simulator actions the agent's ``action`` stands for at ``view``.

        Raises:
            InvalidActionError: The action is not in the action space.
        """
        raise NotImplementedError

    def _reward(self) -> tuple[float, dict[str, Any]]:
        """The reward earned since the previous decision point, and the step's ``info`` entries."""
        raise NotImplementedError

    def _index(self, action: Any, n: int, what: str) -> int:
        """``action`` as an index in ``0..n-1``, ``what`` naming it in the error.

        Raises:
            InvalidActionError: Not an integer, or out of range.
        """
        try:
            i = int(action)
        except (TypeError, ValueError):
            raise InvalidActionError(f"a {self.family} action is {what}, got {action!r}") from None
        if i != action or not 0 <= i < n:
            raise InvalidActionError(f"a {self.family} action is {what} in 0..{n - 1}, got {action!r}")
        return i

    # -- a policy run as a scheduler -----------------------------------------------------

    def observe_view(self, view: Any) -> Any:
        """The observation this environment gives at ``view``, which may come from any run.

        A trained policy run as a scheduler (:mod:`schedlab.learn`) observes through the
        environment it was trained in, built from its training scenario: the scales it learned
        with stay, the state is the run's.
        """
        return self._observation(view)

    def view_action_masks(self, view: Any | None) -> np.ndarray:
        """Which actions are valid at ``view`` (default: all of a ``Discrete`` space).

        ``view`` is None when no decision point is open (before the first reset, or after the
        episode's end).
        """
        return np.ones(int(self.action_space.n), dtype=bool)

    def view_label(self, view: Any, answer: list, mask: np.ndarray) -> int | None:
        """The valid ``Discrete`` action a scheduler's ``answer`` at ``view`` amounts to, or None.

        For imitation: by default the action whose simulator actions equal the answer.
        Families whose schedulers answer several decisions at once read off the part this
        environment offers.
        """
        return next((int(a) for a in np.flatnonzero(mask) if self.view_actions(view, int(a)) == answer), None)

    def view_actions(self, view: Any, action: Any) -> list:
        """The simulator actions the agent's ``action`` stands for at ``view``."""
        return self._actions(view, action)

    def action_masks(self) -> np.ndarray:
        """Which actions are valid now; for ``sb3_contrib.MaskablePPO``."""
        sim = self.sim
        return self.view_action_masks(sim.observe() if sim is not None and not sim.done else None)

    # -- the Gymnasium API ---------------------------------------------------------------

    @property
    def view(self) -> Any:
        """The read-only view of the current decision point (as a scheduler would see it).

        Raises:
            RuntimeError: Before the first reset, or once the episode is over.
        """
        if self.sim is None or self.sim.done:
            raise RuntimeError("no decision point is open: call reset() first (or again, after the episode's end)")
        return self.sim.observe()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if "episode_seed" in options:
            episode_seed = int(options["episode_seed"])
        else:
            episode_seed = _TRAIN_SEED_FLOOR + int(self.np_random.integers(_TRAIN_SEED_RANGE))
        self.episode_seed = episode_seed
        self.sim = Simulation(self.scenario, episode_seed)
        if self.sim.done:
            raise ConfigError(f"the scenario {self.scenario.name!r} has no decision point: nothing to decide")
        self._begin_episode()
        view = self.sim.observe()
        return self._observation(view), {"episode_seed": episode_seed, "time_s": float(view.now)}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        view = self.view
        self.sim.act(self._actions(view, action))
        reward, info = self._reward()
        terminated = self.sim.done
        if terminated:
            from schedlab.metrics.summary import summarize

            trace = self.sim.trace(meta={"agent": type(self).__name__})
            info["trace"] = trace
            info["metrics"] = summarize(trace)
            obs = self._final_observation()
        else:
            view = self.sim.observe()
            info["time_s"] = float(view.now)
            obs = self._observation(view)
        return obs, float(reward), terminated, False, info
