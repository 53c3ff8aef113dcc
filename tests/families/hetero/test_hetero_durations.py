"""The hetero duration model: calibration, scaling with size, x86 containers, noise, bad input."""

import math

import numpy as np
import pytest

from schedlab.families.hetero.tasks import (
    DEFAULT_NODES,
    MEASURED_S,
    REFERENCE_SIZE,
    SIZE_RANGES,
    TASK_TYPES,
    Node,
    Task,
    check_size,
    draw_durations,
    expected_duration_s,
    expected_durations,
    sample_tasks,
)

PI5, PI4 = Node("pi5", "pi5"), Node("pi4", "pi4")


def x86(cpus, disk="ssd"):
    return Node(f"x86-{cpus}-{disk}", "x86", cpus, disk)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_pis_reproduce_the_measured_times_at_the_reference_size(task_type):
    assert expected_duration_s(PI5, task_type, REFERENCE_SIZE[task_type]) == pytest.approx(MEASURED_S["pi5"][task_type])
    assert expected_duration_s(PI4, task_type, REFERENCE_SIZE[task_type]) == pytest.approx(MEASURED_S["pi4"][task_type])


def test_measured_figures_are_inside_the_reported_ranges():
    reported = {"matmul": ((12, 13), (27, 28)), "primes": ((16, 17), (37, 38)),
                "sort": ((7, 8), (15, 16)), "file_io": ((6, 7), (20, 21))}  # fmt: skip
    for t, (pi5, pi4) in reported.items():
        assert pi5[0] <= MEASURED_S["pi5"][t] <= pi5[1] and pi4[0] <= MEASURED_S["pi4"][t] <= pi4[1]


def growth_ratio(node, task_type, a, b, c):
    """(d(c) - d(b)) / (d(b) - d(a)): the fixed start-up cancels, the growth law remains."""
    d = [expected_duration_s(node, task_type, s) for s in (a, b, c)]
    return (d[2] - d[1]) / (d[1] - d[0])


@pytest.mark.parametrize("node", [PI5, PI4, x86(0.5, "hdd")])
def test_duration_grows_by_each_types_law(node):
    assert growth_ratio(node, "matmul", 1250, 2500, 5000) == pytest.approx(8.0)  # n^3
    assert growth_ratio(node, "file_io", 500_000, 1_000_000, 2_000_000) == pytest.approx(2.0)  # n
    f = lambda n: n * math.log(n)  # noqa: E731
    want = (f(8e6) - f(4e6)) / (f(4e6) - f(2e6))
    assert growth_ratio(node, "sort", 2_000_000, 4_000_000, 8_000_000) == pytest.approx(want)
    g = lambda n: n * math.log(math.log(n))  # noqa: E731
    want = (g(4.8e6) - g(2.4e6)) / (g(2.4e6) - g(1.2e6))
    assert growth_ratio(node, "primes", 1_200_000, 2_400_000, 4_800_000) == pytest.approx(want)


def test_hdd_slows_file_io_and_nothing_else():
    for cpus in (0.5, 1.0, 2.0):
        ssd, hdd = x86(cpus, "ssd"), x86(cpus, "hdd")
        for t in ("matmul", "primes", "sort"):
            assert expected_duration_s(ssd, t, REFERENCE_SIZE[t]) == expected_duration_s(hdd, t, REFERENCE_SIZE[t])
        ref = REFERENCE_SIZE["file_io"]
        assert expected_duration_s(hdd, "file_io", ref) > 4 * expected_duration_s(ssd, "file_io", ref)


def test_cpu_limit_speeds_up_only_the_multithreaded_matrix_product():
    one, two, half = x86(1.0), x86(2.0), x86(0.5)
    ref = REFERENCE_SIZE
    assert expected_duration_s(two, "matmul", ref["matmul"]) < 0.55 * expected_duration_s(one, "matmul", ref["matmul"])
    for t in ("primes", "sort"):
        assert expected_duration_s(two, t, ref[t]) == expected_duration_s(one, t, ref[t])
        assert expected_duration_s(half, t, ref[t]) == pytest.approx(2 * expected_duration_s(one, t, ref[t]))


def test_fastest_node_depends_on_the_task_type():
    # The heterogeneity the family is about: the fastest node differs by task type.
    tasks = [Task(t, REFERENCE_SIZE[t]) for t in TASK_TYPES]
    p = expected_durations(DEFAULT_NODES, tasks)
    best = {TASK_TYPES[i]: DEFAULT_NODES[int(np.argmin(p[i]))].name for i in range(len(tasks))}
    assert best["matmul"] == "x86-2cpu-ssd" and best["file_io"].endswith("ssd")
    assert p.shape == (4, 9) and (p > 0).all()


def test_noise_is_mean_one_seeded_and_off_at_zero():
    e = np.full((200, 50), 10.0)
    a = draw_durations(np.random.default_rng(1), e, 0.1)
    b = draw_durations(np.random.default_rng(1), e, 0.1)
    assert np.array_equal(a, b)
    assert a.mean() == pytest.approx(10.0, rel=0.01)
    assert np.std(np.log(a / 10.0)) == pytest.approx(0.1, rel=0.05)
    assert np.array_equal(draw_durations(np.random.default_rng(1), e, 0.0), e)
    with pytest.raises(ValueError, match="noise sigma"):
        draw_durations(np.random.default_rng(1), e, -1.0)


def test_sampled_tasks_lie_in_range_and_repeat_with_the_seed():
    a = sample_tasks(np.random.default_rng(4), [(0.0, 40), (12.5, 10)])
    b = sample_tasks(np.random.default_rng(4), [(0.0, 40), (12.5, 10)])
    assert a == b and len(a) == 50
    assert [t.arrival_s for t in a] == [0.0] * 40 + [12.5] * 10
    for t in a:
        lo, hi = SIZE_RANGES[t.type]
        assert lo <= t.size <= hi and isinstance(t.size, int)
    assert {t.type for t in a} == set(TASK_TYPES)
    assert {t.type for t in sample_tasks(np.random.default_rng(4), [(0.0, 20)], ["sort"])} == {"sort"}


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: check_size("fft", 10), "unknown task type 'fft'"),
        (lambda: check_size("matmul", 6000), r"size 6000 of a matmul task is outside its range 250..5000"),
        (lambda: check_size("file_io", 99_999), "outside its range 100000..2000000"),
        (lambda: check_size("sort", "big"), "size 'big'"),
        (lambda: Task("primes", 100), "outside its range 240000..4800000"),
        (lambda: Task("sort", 500_000, -1.0), "arrival must be a finite time"),
        (lambda: Node("n", "arm"), "unknown kind 'arm'"),
        (lambda: Node("n", "x86"), "needs cpus in 0.5..2.0"),
        (lambda: Node("n", "x86", 4.0, "ssd"), "needs cpus in 0.5..2.0, got 4.0"),
        (lambda: Node("n", "x86", 1.0, "nvme"), "disk 'ssd' or 'hdd'"),
        (lambda: Node("n", "pi4", 1.0), "x86 containers only"),
        (lambda: expected_durations([], []), "at least one node"),
        (lambda: sample_tasks(np.random.default_rng(0), [(0, 1)], ["fft"]), "unknown task type"),
        (lambda: sample_tasks(np.random.default_rng(0), [(0, 1)], []), "at least one task type"),
    ],
)
def test_bad_inputs_raise_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
