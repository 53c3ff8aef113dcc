"""The hetero baselines: `optimal` against brute force, and the makespan lower bound."""

import itertools

import numpy as np
import pytest

from schedlab.families.hetero.metrics import makespan_lower_bound
from schedlab.families.hetero.schedulers import earliest_finish_order, min_sum_completion, requesting_node_order
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario
from schedlab.schedulers import default_name, make, names


def sum_of_completions(p, ready, order):
    """Run ``(task, node)`` pairs as FIFO queues behind ``ready``; return the sum of completions."""
    r = list(ready)
    total = 0.0
    for i, j in order:
        r[j] += p[i, j]
        total += r[j]
    return total


def brute_force_min_sum(p, ready):
    """Every assignment of tasks to nodes, times every global order of the tasks."""
    n, m = p.shape
    best = np.inf
    for assign in itertools.product(range(m), repeat=n):
        for perm in itertools.permutations(range(n)):
            best = min(best, sum_of_completions(p, ready, [(i, assign[i]) for i in perm]))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_min_sum_completion_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = 5, 3
    p = rng.uniform(0.5, 10.0, size=(n, m))
    ready = rng.uniform(0.0, 6.0, size=m) if seed % 2 else np.zeros(m)
    order = min_sum_completion(p, ready)
    assert sorted(i for i, _ in order) == list(range(n))  # every task exactly once
    assert sum_of_completions(p, ready, order) == pytest.approx(brute_force_min_sum(p, ready), rel=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_optimal_scheduler_is_exact_in_the_simulator(seed):
    # Without noise the expected durations are the actual ones, so the batch at t=0 reaches
    # the brute-force minimum of the sum of completion times.
    over = {"workload.batches": [{"at_s": 0, "tasks": 5}], "cluster.noise_sigma": 0.0}
    over["cluster.nodes"] = [
        {"name": "pi5", "kind": "pi5"},
        {"name": "pi4", "kind": "pi4"},
        {"name": "x86", "kind": "x86", "cpus": 1, "disk": "hdd"},
    ]
    sc = load_scenario("hetero", over)
    tr = simulate(sc, "optimal", seed=seed).trace
    d = tr.extra["hetero_durations"]
    p = np.array(d["duration"]).reshape(5, 3)
    assert sum(tr.jobs["completion"]) == pytest.approx(brute_force_min_sum(p, [0.0] * 3), rel=1e-12)


def test_optimal_never_loses_on_the_sum_of_completions_without_noise():
    sc = load_scenario("hetero", {"cluster.noise_sigma": 0.0, "workload.batches": [{"at_s": 0, "tasks": 30}]})
    for seed in range(3):
        sums = {s: sum(simulate(sc, s, seed=seed).trace.jobs["completion"]) for s in names("hetero")}
        assert all(sums["optimal"] <= v + 1e-9 for v in sums.values()), sums


def test_list_orders_break_ties_as_documented():
    p = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert earliest_finish_order(p, np.zeros(2)) == [(0, 0), (1, 1)]
    assert requesting_node_order(p, np.zeros(2)) == [(0, 0), (1, 1)]
    assert min_sum_completion(np.zeros((0, 2)), np.zeros(2)) == []


def test_lower_bound_single_node_is_total_work():
    assert makespan_lower_bound(np.array([[3.0], [2.0], [4.0]]), np.zeros(3)) == 9.0


def test_lower_bound_identical_nodes_is_tight():
    # Spread: 7 / 2 = 3.5, but the 4 s task alone needs 4; {4}, {2, 1} reaches it.
    p = np.array([[2.0, 2.0], [4.0, 4.0], [1.0, 1.0]])
    assert makespan_lower_bound(p, np.zeros(3)) == pytest.approx(4.0)


def test_lower_bound_charges_each_node_at_its_own_speed():
    # Two 1 s tasks that take 10 s on the slow node: the naive bound (fastest work over all
    # nodes) says 1; the LP says 20/11 (node 0 takes 20/11 of the work, node 1 the rest at 10x).
    p = np.array([[1.0, 10.0], [1.0, 10.0]])
    assert makespan_lower_bound(p, np.zeros(2)) == pytest.approx(20 / 11, rel=1e-6)
    assert makespan_lower_bound(p, np.zeros(2)) <= 20 / 11  # never above the true LP optimum


def test_lower_bound_counts_late_batches_from_their_arrival():
    # One node: 3 s at t=0 and 2 s at t=10; the second cannot end before 12.
    p = np.array([[3.0], [2.0]])
    assert makespan_lower_bound(p, np.array([0.0, 10.0])) == 12.0
    # Measured from the earliest arrival.
    assert makespan_lower_bound(p, np.array([5.0, 15.0])) == 12.0


@pytest.mark.parametrize("seed", range(4))
def test_lower_bound_is_below_every_schedulers_makespan(seed):
    sc = load_scenario("hetero")
    for s in names("hetero"):
        m = simulate(sc, s, seed=seed).metrics
        assert 0 < m["makespan_lower_bound_s"] <= m["makespan_s"]
        assert m["makespan_gap"] >= 0


def test_registered_names_and_aliases():
    assert names("hetero") == ["random", "round-robin", "greedy-sjf", "global-sjf", "optimal", "ppo"]
    assert type(make("min-min", "hetero")).__name__ == "GlobalSJF"
    assert default_name("hetero") == "round-robin"
    assert make("optimal", "hetero").get_params() == {}
