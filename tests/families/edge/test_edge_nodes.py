"""Node dynamics (bounded, seeded, mean-reverting, spiky) and node logs on disk."""

import numpy as np
import pytest

from schedlab.errors import DataError
from schedlab.families.edge.nodes import (
    LOG_COLUMNS,
    EdgeNodes,
    NodeParams,
    generate_node_logs,
    read_node_logs,
    write_node_logs,
)
from schedlab.families.edge.scenario import EdgeClusterConfig, NodeDynamicsConfig


def params(**dynamics):
    return NodeParams.from_config(EdgeClusterConfig(dynamics=NodeDynamicsConfig(**dynamics)))


QUIET = dict(load_noise=0.0, spike_rate=0.0, drift_amplitude=0.0, cpu_noise=0.0, cpu_realloc_rate=0.0,
             mem_noise=0.0, delay_noise=0.0, delay_spike_rate=0.0, load_amplitude=(0.0, 0.0))  # fmt: skip


def logs(seed=0, n=4, steps=2000, **dynamics):
    return generate_node_logs(n, steps, 0.02, params(**dynamics), np.random.default_rng(seed))


def test_same_seed_same_logs_other_seed_other_logs():
    a, b, c = logs(1), logs(1), logs(2)
    assert np.array_equal(a.values, b.values)
    assert not np.array_equal(a.values, c.values)


def test_state_stays_within_its_ranges_even_with_spikes():
    log = logs(steps=5000, spike_rate=0.05, delay_spike_rate=0.05, load_noise=0.1)
    for name, (lo, hi) in zip(("cpu", "mem", "delay", "load"), ((1, 5), (2, 16), (5, 500), (0, 1))):
        col = log.column(name)
        assert lo <= col.min() and col.max() <= hi, name


def test_without_noise_the_state_settles_at_its_target():
    # Baseline load 0.3, no periodic part, no drift, no spikes: load reverts to 0.3, cpu to
    # nominal * (1 - 0.2 * 0.3), delay to base * (1 + 0.3^2).
    log = logs(steps=300, load_base=(0.3, 0.3), delay_base_ms=(20.0, 20.0), **QUIET)
    assert np.allclose(log.column("load")[-1], 0.3)
    assert np.allclose(log.column("delay")[-1], 20.0 * (1 + 0.3**2))
    cpu = log.column("cpu")
    assert np.allclose(cpu[-1], cpu[-2], atol=1e-6)


def test_load_reverts_after_a_spike():
    p = params(**{**QUIET, "spike_rate": 1.0, "spike_size": (0.4, 0.4), "load_base": (0.2, 0.2)})
    nodes = EdgeNodes(1, p, np.random.default_rng(0))
    nodes.step()
    assert nodes.load[0] == pytest.approx(0.6)  # one spike on top of the baseline
    quiet = EdgeNodes(1, params(**{**QUIET, "load_base": (0.2, 0.2)}), np.random.default_rng(0))
    for _ in range(200):
        quiet.step()
    assert quiet.load[0] == pytest.approx(0.2)


def test_periodic_part_shows_in_the_load():
    log = logs(n=1, steps=600, **{**QUIET, "load_amplitude": (0.2, 0.2), "load_period_steps": (200.0, 200.0)})
    load = log.column("load")[:, 0]
    lag = load[300:500] - load[100:300]  # one period apart: close; half a period: not
    half = load[300:400] - load[200:300]
    assert np.abs(lag).max() < 0.02 < np.abs(half).max()


def test_requests_raise_load_delay_and_take_memory():
    p = params(**QUIET)
    a, b = EdgeNodes(2, p, np.random.default_rng(0)), EdgeNodes(2, p, np.random.default_rng(0))
    a.step(np.array([1.0, 0.0]), np.array([5.0, 0.0]))
    b.step()
    assert a.load[0] == 1.0 and a.load[1] == b.load[1]
    assert a.delay[0] > b.delay[0] and a.mem[0] < b.mem[0]
    assert a.background[0] == b.background[0]  # the requests' share is not background


def test_gen_logs_rejects_bad_counts():
    with pytest.raises(ValueError, match="num_nodes must be at least 1, got -3"):
        generate_node_logs(-3, 10, 0.02, params(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="interval must be a positive"):
        generate_node_logs(2, 10, 0.0, params(), np.random.default_rng(0))


# -- logs on disk ---------------------------------------------------------------------------


def test_write_then_read_round_trips(tmp_path):
    log = logs(steps=50)
    path = write_node_logs(tmp_path / "logs.csv", log)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(LOG_COLUMNS) == "timestamp,node_id,cpu,mem,delay,load"
    assert len(lines) == 1 + 50 * 4
    back = read_node_logs(path)
    assert back.node_ids == (0, 1, 2, 3)
    assert np.allclose(back.time_s, np.arange(50) * 0.02)
    assert np.allclose(back.values, log.values, atol=1e-3)


@pytest.mark.parametrize("header", [True, False])
def test_reads_the_old_five_column_form(tmp_path, header):
    log = logs(steps=20)
    new = read_node_logs(write_node_logs(tmp_path / "new.csv", log))
    body = [line.split(",", 1)[1] for line in (tmp_path / "new.csv").read_text().splitlines()[1:]]
    old = tmp_path / "old.txt"
    old.write_text(("node_id,cpu,mem,delay,load\n" if header else "") + "\n".join(body) + "\n")
    back = read_node_logs(old, interval_s=0.5)
    assert np.array_equal(back.values, new.values)
    assert np.allclose(back.time_s, np.arange(20) * 0.5)


def test_header_columns_in_any_order(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("node_id,load,delay,mem,cpu,timestamp\n1,0.5,20,8,2,0.0\n0,0.1,10,4,1,0.0\n0,0.2,11,4,1,1.0\n"
                 "1,0.6,21,8,2,1.0\n")  # fmt: skip
    log = read_node_logs(p)
    assert log.node_ids == (0, 1) and log.time_s.tolist() == [0.0, 1.0]
    assert log.values[1, 1].tolist() == [2.0, 8.0, 21.0, 0.6]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty node log"),
        ("timestamp,node_id,cpu,mem,delay,load\n", "has a header but no rows"),
        ("timestamp,node_id,cpu,mem,latency,load\n0,0,1,2,3,0.1\n", "line 1: missing column(s) delay"),
        ("0,0,1,2,3\n0,1,1,2,x\n", "line 2, column load: expected a number, got 'x'"),
        ("0,0,1,2,3,0.1\n0,1,1,2,abc,0.1\n", "line 2, column delay: expected a number, got 'abc'"),
        ("0,0,1,2,3,0.1\n0,1,1,2\n", "line 2: expected 6 fields"),
        ("0,a,1,2,3,0.1\n", "line 1, column node_id: expected an integer node id, got 'a'"),
        ("0,0,1,2,nan,0.1\n", "line 1, column delay: expected a finite number"),
        ("1,2,3\n", "line 1: expected 6 fields"),
        ("0,0,1,2,3,0.1\n0,1,1,2,3,0.1\n1,0,1,2,3,0.1\n", "node 1 has 0 rows at timestamp 1"),
        ("0,1,2,3,0.1\n0,1,2,3,0.1\n1,1,2,3,0.1\n", "node 1 has 0 rows at step 1"),
    ],
)
def test_malformed_logs_name_file_line_and_column(tmp_path, text, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError) as e:
        read_node_logs(p)
    assert str(e.value).startswith(str(p))
    assert message in str(e.value)


def test_missing_log_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_node_logs(tmp_path / "nope.csv")
