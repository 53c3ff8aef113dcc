"""Forking a spark cluster, and the rollout scheduler that looks ahead on the forks."""

import numpy as np
import pytest

from schedlab.errors import ConfigError
from schedlab.families.spark.rollout import Rollout
from schedlab.runs import simulate
from schedlab.schedulers import make
from schedlab.schedulers.base import Scheduler
from schedlab.sim.simulation import Simulation
from schedlab.testing import small_scenario


def scenario(jobs=12):
    return small_scenario("spark-synthetic", {"workload.jobs": jobs})


def play_to_end(twin, base):
    going = True
    while True:
        if not going:
            going = twin.advance()
            if not going:
                return
        going = twin.apply(list(base.decide(twin.view())))


class ForkEveryDecision(Scheduler):
    """srwf-capped, after playing a fork of the cluster to its end at every decision."""

    families = ("spark",)

    def __init__(self):
        self.base = make("srwf-capped", "spark")
        self.finished = 0

    def decide(self, view):
        twin = view.fork(np.random.default_rng(len(view.jobs)))
        play_to_end(twin, self.base)
        self.finished += sum(j.completion is not None for j in twin.jobs)
        return self.base.decide(view)


def schedule(trace):
    return trace.tasks, trace.moves, trace.decisions, trace.jobs


def test_playing_forks_to_the_end_leaves_the_run_as_it_was():
    sc = scenario()
    plain = simulate(sc, "srwf-capped", 3).trace
    forking = ForkEveryDecision()
    assert schedule(simulate(sc, forking, 3).trace) == schedule(plain)
    assert forking.finished > 0


def test_a_fork_holds_the_jobs_in_the_system_and_no_later_arrival():
    sim = Simulation(scenario(), 5)
    base = make("srwf-capped", "spark")
    while len(sim.observe().jobs) < 2 or sim.model.jobs[-1] in sim.model.active_jobs:
        sim.act(base.decide(sim.observe()))
    view = sim.observe()
    present = {j.id for j in view.jobs}
    later = [j for j in sim.model.jobs if j.completion is None and j.id not in present]
    assert present and later
    twin = view.fork(np.random.default_rng(0))
    play_to_end(twin, base)
    assert all(twin.jobs[i].completion is not None for i in present)
    assert all(twin.jobs[j.id].completion is None for j in later)
    # The jobs yet to arrive are untouched, in the fork and in the cluster.
    assert all(st.remaining == st.num_tasks and st.done == 0 for j in later for st in j.stages)
    assert twin.engine is not sim.engine and twin.engine.now > view.now_ms


def test_a_fork_draws_its_durations_from_its_own_stream():
    sim = Simulation(scenario(), 2)
    base = make("srwf-capped", "spark")
    for _ in range(5):
        sim.act(base.decide(sim.observe()))
    view = sim.observe()

    def completions(seed):
        twin = view.fork(np.random.default_rng(seed))
        play_to_end(twin, base)
        return [j.completion for j in twin.jobs if j.completion is not None]

    assert completions(1) == completions(1)
    assert completions(1) != completions(2)


def test_a_cluster_with_faults_is_not_forked():
    sc = small_scenario("spark-synthetic", {"workload.jobs": 4, "faults": {"lost_on_move": 0.5}})
    with pytest.raises(ConfigError, match="faults"):
        Simulation(sc, 0).observe().fork(np.random.default_rng(0))


def test_rollout_refuses_a_scenario_with_faults():
    sc = small_scenario("spark-synthetic", {"workload.jobs": 3, "faults": {"lost_on_move": 0.5}})
    with pytest.raises(ConfigError, match="faults"):
        simulate(sc, "rollout", 0)


def test_a_margin_no_alternative_can_clear_gives_the_base_schedule():
    sc = scenario(8)
    base = simulate(sc, "srwf-capped", 1).trace
    assert schedule(simulate(sc, Rollout(margin=0.999), 1).trace) == schedule(base)


def test_rollout_changes_decisions_and_is_seeded():
    sc = scenario(8)
    base = simulate(sc, "srwf-capped", 1).trace
    first = simulate(sc, Rollout(horizon_s=20.0, rollouts=1, margin=0.0), 1).trace
    assert schedule(first) != schedule(base)
    assert schedule(simulate(sc, Rollout(horizon_s=20.0, rollouts=1, margin=0.0), 1).trace) == schedule(first)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base": "rollout"}, "base"),
        ({"base": 3}, "base"),
        ({"horizon_s": 0}, "horizon_s"),
        ({"horizon_s": float("inf")}, "horizon_s"),
        ({"candidates": 0}, "candidates"),
        ({"rollouts": 1.5}, "rollouts"),
        ({"margin": 1.0}, "margin"),
        ({"share": -1}, "share"),
    ],
)
def test_bad_knobs_name_their_field(kwargs, field):
    with pytest.raises(ConfigError) as err:
        Rollout(**kwargs)
    assert err.value.field == field


def test_an_unknown_base_gets_a_suggestion():
    with pytest.raises(Exception, match="srwf-capped"):
        Rollout(base="srwf-caped")


def test_registered_with_its_knobs():
    s = make("rollout", "spark", horizon_s=30.0)
    assert isinstance(s, Rollout) and s.get_params()["horizon_s"] == 30.0
