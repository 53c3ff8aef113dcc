"""The drift-aware least-work-remaining scheduler: knobs, the linear predictor, its gate, conformance."""

import numpy as np
import pytest

from helpers import assert_seed_determinism, columns, drive
from schedlab.errors import ConfigError
from schedlab.families.multiproc.model import CpuView, Multiprocessor, TaskView
from schedlab.families.multiproc.schedulers import DriftAwareLWR, fit_line
from schedlab.families.multiproc.tasks import TaskSet
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import make
from schedlab.sim.engine import Engine
from schedlab.testing import check_scheduler


@pytest.mark.parametrize(
    "knobs, field, match",
    [
        ({"sma_window": 1}, "sma_window", "integer of at least 2, got 1"),
        ({"sma_window": 4.0}, "sma_window", "integer of at least 2"),
        ({"sma_window": True}, "sma_window", "integer of at least 2"),
        ({"trend_window": 2}, "trend_window", "integer of at least 3, got 2"),
        ({"ewma_alpha": 0.0}, "ewma_alpha", r"must be in \(0.2222, 1\]"),
        ({"ewma_alpha": 1.5}, "ewma_alpha", r"must be in"),
        ({"sma_window": 8, "ewma_alpha": 0.2}, "ewma_alpha", "reacts faster than the SMA"),
        ({"ewma_alpha": float("nan")}, "ewma_alpha", "must be in"),
        ({"horizon_s": 0}, "horizon_s", "positive number of seconds, got 0"),
        ({"horizon_s": float("inf")}, "horizon_s", "positive number of seconds"),
        ({"threshold": -1}, "threshold", "non-negative number, got -1"),
        ({"threshold": "2"}, "threshold", "non-negative number"),
    ],
)
def test_bad_knobs_are_config_errors(knobs, field, match):
    with pytest.raises(ConfigError, match=match) as e:
        DriftAwareLWR(**knobs)
    assert e.value.field == field
    with pytest.raises(ConfigError, match=match):
        make("lwr-drift", "multiproc", **knobs)


def test_knobs_round_trip():
    s = make("drift-aware-lwr", "multiproc", threshold=2.5, horizon_s=3.0)
    assert s.get_params() == {
        "sma_window": 8,
        "ewma_alpha": 0.5,
        "trend_window": 24,
        "horizon_s": 3.0,
        "threshold": 2.5,
    }
    assert DriftAwareLWR(**s.get_params()).get_params() == s.get_params()


def test_the_line_fit_extrapolates_a_linear_series_exactly():
    t = np.array([4.5, 0.0, 1.0, 3.0, 7.0])  # irregular and out of order
    ys = np.stack([2.0 + 0.5 * t, -1.0 - 0.25 * t, np.full(t.size, 3.0)], axis=1)
    slope, intercept, resid = fit_line(t, ys)
    np.testing.assert_allclose(slope, [0.5, -0.25, 0.0], atol=1e-12)
    np.testing.assert_allclose(intercept, [2.0, -1.0, 3.0], atol=1e-12)
    np.testing.assert_allclose(resid, 0.0, atol=1e-12)
    at = 9.0  # beyond the samples
    np.testing.assert_allclose(intercept + slope * at, [6.5, -3.25, 3.0], atol=1e-12)
    s1, i1, r1 = fit_line(t, ys[:, 0])  # one series
    assert (s1, i1, r1) == (pytest.approx(0.5), pytest.approx(2.0), pytest.approx(0.0, abs=1e-12))
    # 0, 1, 0, -1 at t = 0..3: the line 0.6 - 0.4 t leaves -0.6, 0.8, 0.2, -0.4: sqrt(1.2 / 2)
    assert fit_line(np.arange(4.0), np.array([0.0, 1.0, 0.0, -1.0]))[2] == pytest.approx(np.sqrt(0.6))
    assert fit_line(np.full(3, 2.0), np.array([1.0, 2.0, 6.0]))[:2] == (0.0, 3.0)  # one time: the mean


class _View:
    """A hand-made view: the scheduler reads ``now``, ``task`` and ``cpus`` only."""

    def __init__(self, now, work_remaining, speeds):
        self.now = now
        self.task = TaskView(0, now, 1.0, 1, now + 10.0)
        self.cpus = tuple(CpuView(c, s, 1, w, w > 0) for c, (w, s) in enumerate(zip(work_remaining, speeds)))


def test_a_linear_ramp_is_forecast_exactly_and_activates_the_predictor():
    # CPU 0 (speed 2): work 1 + 0.25 t, so backlog 0.5 + 0.125 t s; CPU 1 (speed 1): steady at 2 s.
    s = DriftAwareLWR(trend_window=6, sma_window=4, ewma_alpha=0.5, horizon_s=8.0, threshold=3.0)
    s.reset(np.random.default_rng(0))
    picks = []
    for k in range(10):
        t = 1.5 * k
        (a,) = s.decide(_View(t, [1.0 + 0.25 * t, 2.0], [2.0, 1.0]))
        picks.append(a.worker)
    assert s.used_prediction == [False] * 5 + [True] * 5  # warm-up of trend_window samples
    # at t = 13.5: backlog 0.5 + 0.125 * 13.5 = 2.1875 s, forecast 0.5 + 0.125 * 21.5 = 3.1875 s
    assert s.forecast_s == [pytest.approx(3.1875), 2.0]
    # lwr takes CPU 0 while its backlog is at most 2 s (t <= 12; the tie at 12 goes to the faster
    # CPU); the forecast passes 2 s at t = 4, so once it ranks the CPUs it picks CPU 1
    assert picks == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert s.changed_pick == [False] * 5 + [True] * 4 + [False]


def feed(sched, backlogs, dt=1.0):
    """Decide on one view per sample of CPU 0's backlog (speed 1; CPU 1 steady at 5 s)."""
    sched.reset(np.random.default_rng(0))
    for k, b in enumerate(backlogs):
        sched.decide(_View(dt * k, [b, 5.0], [1.0, 1.0]))
    return sched.used_prediction


def test_the_smoothers_must_confirm_the_trend():
    knobs = {"trend_window": 12, "sma_window": 6, "ewma_alpha": 0.6, "horizon_s": 10.0, "threshold": 1.0}
    rising = [0.2 * k for k in range(12)]
    assert feed(DriftAwareLWR(**knobs), rising)[-1]
    # The same rise, then a drop: the line still slopes up (0.094 s/s, residual 0.47 s, so
    # 0.94 s predicted over 10 s), but the EWMA (0.77 s) fell below the SMA (1.2 s).
    dropped = rising[:10] + [0.6, 0.6]
    assert not feed(DriftAwareLWR(**knobs), dropped)[-1]


def test_plain_lwr_until_both_windows_are_full():
    rising = [0.2 * k for k in range(14)]
    used = feed(DriftAwareLWR(sma_window=10, ewma_alpha=0.5, trend_window=4), rising)
    assert used == [False] * 9 + [True] * 5
    used = feed(DriftAwareLWR(sma_window=3, ewma_alpha=0.6, trend_window=6), rising)
    assert used == [False] * 5 + [True] * 9


def test_a_constant_backlog_never_drifts_even_at_threshold_zero():
    # Rounding leaves a slope of about 1e-33 s/s on a constant series; it is not a trend.
    for level in (0.1, 0.37, 0.7):
        assert not any(feed(DriftAwareLWR(threshold=0.0), [level] * 40, dt=0.1))


def tasks(arrival, size):
    a = np.array(arrival, dtype=float)
    sz = np.array(size, dtype=float)
    return TaskSet(a, sz, sz.copy(), np.ones(a.size, dtype=int), a + 100.0, np.zeros(a.size, dtype=int))


def run_both(ts, speeds):
    """The decisions of lwr and of lwr-drift (and its log) on a hand-built model."""
    sched = DriftAwareLWR()
    out = []
    for s in ("lwr", sched):
        eng = Engine()
        trace = drive(eng, Multiprocessor(eng, ts, speeds), s)
        out.append(columns(trace.decisions, ("time", "job", "worker", "oracle", "regret")))
    return out[0], out[1], sched


def test_a_steady_load_gets_exactly_lwrs_decisions():
    # Every 2 s two tasks of size 1 arrive together on CPUs of speed 1 and 2: the first goes to
    # the idle fast CPU (backlog 0.5 s), the second to the idle slow one; all done before the
    # next pair. The backlog repeats, so there is no trend to detect.
    arrival = [2.0 * (k // 2) for k in range(80)]
    lwr, drift, sched = run_both(tasks(arrival, [1.0] * 80), (1.0, 2.0))
    assert [d[2] for d in lwr[:4]] == [1, 0, 1, 0]
    assert drift == lwr
    assert sched.used_prediction == [False] * 80


def test_an_injected_drift_activates_the_predictor():
    # 40 tasks of size 0.5 every second on two CPUs of speed 1 (never a queue), then 60 of size
    # 1 every 0.25 s: four units of work a second for two of capacity, so both backlogs ramp up.
    arrival = [*np.arange(40.0), *(40.0 + 0.25 * np.arange(60))]
    lwr, drift, sched = run_both(tasks(arrival, [0.5] * 40 + [1.0] * 60), (1.0, 1.0))
    used = sched.used_prediction
    assert not any(used[:40])
    assert all(used[70:])  # once the trend window lies in the ramp
    first = used.index(True)
    assert drift[:first] == lwr[:first]  # same state, same picks until the forecast takes over


def small(phases=None):
    phases = phases or [
        {"kind": "stable", "tasks": 60, "utilization": 0.8},
        {"kind": "drifting", "tasks": 60, "utilization": 0.5, "utilization_end": 1.2},
        {"kind": "bursty", "tasks": 60, "utilization": 0.8},
    ]
    return load_scenario("multiproc", {"workload.phases": phases})


def test_a_stable_scenario_matches_lwr_until_the_first_forecast():
    sc = small([{"kind": "stable", "tasks": 150, "utilization": 0.7}])
    sched = DriftAwareLWR()
    drift = simulate(sc, sched, seed=5).trace.decisions
    lwr = simulate(sc, "lwr", seed=5).trace.decisions
    used = sched.used_prediction
    first = used.index(True) if any(used) else len(used)
    assert first >= sched.trend_window
    assert drift["worker"][:first] == lwr["worker"][:first]
    # the forecast only ever re-ranks: where it left lwr's pick alone, the pick is lwr's
    assert not any(c and not u for c, u in zip(sched.changed_pick, used))


def test_same_seed_same_trace_and_log():
    assert_seed_determinism(small(), "lwr-drift")
    logs = []
    for _ in range(2):
        s = DriftAwareLWR()
        simulate(small(), s, seed=4)
        logs.append((s.used_prediction, s.changed_pick))
    assert logs[0] == logs[1] and len(logs[0][0]) == 180


def test_reset_starts_a_fresh_episode():
    s = DriftAwareLWR()
    a = simulate(small(), s, seed=2)
    first = list(s.used_prediction)
    b = simulate(small(), s, seed=2)  # the same object again: reset clears the trackers
    assert a.trace.digest() == b.trace.digest() and s.used_prediction == first


def test_conformance():
    phases = [{"kind": "drifting", "tasks": 50, "utilization": 0.4, "utilization_end": 1.3}]
    check_scheduler(DriftAwareLWR, "multiproc", overrides={"workload.phases": phases})
