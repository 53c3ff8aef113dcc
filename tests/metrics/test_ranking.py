"""Crowning the best scheduler only when a paired test over the seeds says it is better."""

from __future__ import annotations

import math

import pytest

from schedlab.metrics.ranking import TEST_DESCRIPTION, Crown, crowned, per_seed
from schedlab.metrics.summary import METRIC_INFO, metric_info

SEEDS = range(1, 6)
NOISE = (0.3, -0.2, 0.1, -0.4, 0.2)  # per-seed noise shared by every scheduler (same workload)


def _runs(**offsets: float) -> dict[str, dict[int, float]]:
    """Per scheduler: 10 + its offset + the seed's noise, plus a little of its own."""
    own = (0.01, -0.02, 0.015, -0.01, 0.005)
    return {
        name: {seed: 10.0 + off + n + (i + 1) * o for seed, n, o in zip(SEEDS, NOISE, own)}
        for i, (name, off) in enumerate(offsets.items())
    }


def test_clear_winner_is_crowned_lower() -> None:
    """One second better on every seed, noise shared: the paired CI excludes zero."""
    crown = crowned(_runs(fifo=2.0, fair=1.0, srwf=0.0), "lower")
    assert isinstance(crown, Crown)
    assert (crown.scheduler, crown.runner_up, crown.pairs) == ("srwf", "fair", 5)
    assert crown.diff_mean == pytest.approx(-1.0, abs=0.05)
    assert 0 < crown.diff_ci95 < 1.0


def test_direction_decides_which_end_wins() -> None:
    """The same numbers crown the largest when higher is better."""
    runs = _runs(a=0.0, b=1.0, c=2.0)
    assert crowned(runs, "lower").scheduler == "a"
    high = crowned(runs, "higher")
    assert (high.scheduler, high.runner_up) == ("c", "b")
    assert high.diff_mean == pytest.approx(1.0, abs=0.05)


def test_tie_is_not_crowned() -> None:
    """A smaller mean that flips sign from seed to seed is a tie."""
    runs = {
        "a": {1: 10.0, 2: 12.0, 3: 9.0, 4: 10.5, 5: 10.0},
        "b": {1: 11.0, 2: 10.5, 3: 10.0, 4: 10.0, 5: 10.3},
    }
    assert sum(runs["a"].values()) < sum(runs["b"].values())  # a leads on the mean...
    assert crowned(runs, "lower") is None  # ...but not seed by seed
    assert crowned(runs, "higher") is None


def test_equal_schedulers_tie() -> None:
    same = {seed: float(seed) for seed in SEEDS}
    assert crowned({"a": same, "b": dict(same)}, "lower") is None


def test_metric_without_direction_is_never_crowned() -> None:
    """Utilization, counts and the like: even a huge, consistent difference crowns no one."""
    runs = _runs(fifo=50.0, fair=0.0)
    assert crowned(runs, "lower") is not None  # the same data would crown someone if directed
    assert crowned(runs, None) is None
    for key in ("executor_utilization", "jobs", "tasks", "events", "decisions", "total_moving_delay_s"):
        assert crowned(runs, metric_info(key).direction) is None, key


def test_runner_up_is_the_one_tested() -> None:
    """A clear gap to the third place does not crown a best that ties with second place."""
    runs = {
        "a": {1: 10.0, 2: 12.0, 3: 9.0, 4: 10.5, 5: 10.0},
        "b": {1: 11.0, 2: 10.5, 3: 10.0, 4: 10.0, 5: 10.3},
        "c": {1: 30.0, 2: 31.0, 3: 29.0, 4: 30.5, 5: 30.0},
    }
    assert crowned(runs, "lower") is None


def test_needs_two_shared_seeds() -> None:
    """The difference is paired over the seeds both ran; one shared seed gives no interval."""
    assert crowned({"a": {1: 1.0, 2: 1.0}, "b": {2: 5.0, 3: 5.0}}, "lower") is None
    assert crowned({"a": {1: 1.0}, "b": {1: 5.0}}, "lower") is None
    assert crowned({"a": {1: 1.0, 2: 1.1}, "b": {1: 5.0, 2: 5.2}}, "lower").pairs == 2
    assert crowned({"a": {1: 1.0, 2: 1.1}}, "lower") is None  # nobody to beat
    assert crowned({}, "higher") is None


def test_undefined_values_are_left_out() -> None:
    runs = _runs(a=0.0, b=1.0)
    runs["a"][6] = None
    runs["b"][6] = math.nan
    runs["c"] = {1: None, 2: math.nan}  # never has a value: not a runner-up
    crown = crowned(runs, "lower")
    assert (crown.scheduler, crown.runner_up, crown.pairs) == ("a", "b", 5)


def test_bad_direction_is_an_error() -> None:
    with pytest.raises(ValueError, match="direction"):
        crowned(_runs(a=0.0, b=1.0), "smaller")


def test_per_seed_groups_rows() -> None:
    rows = [
        {"scheduler": "a", "seed": 1, "m": 1.5},
        {"scheduler": "b", "seed": 1, "m": None},
        {"scheduler": "a", "seed": 2, "m": 2},
        {"scheduler": "b", "seed": 2, "m": 3.0},
        {"scheduler": "b", "seed": 3, "m": True},  # a flag, not a number
    ]
    assert per_seed(rows, "m") == {"a": {1: 1.5, 2: 2.0}, "b": {2: 3.0}}


def test_description_names_the_test() -> None:
    assert "paired t-test" in TEST_DESCRIPTION and "95%" in TEST_DESCRIPTION


def test_every_metric_has_a_known_direction() -> None:
    assert all(info.direction in ("lower", "higher", None) for info in METRIC_INFO.values())
    assert METRIC_INFO["executor_utilization"].direction is None
    assert METRIC_INFO["avg_jct_s"].direction == "lower"
    assert METRIC_INFO["jain_fairness"].direction == "higher"
    assert metric_info("not_a_metric") == ("not_a_metric", None)
