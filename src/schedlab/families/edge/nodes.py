"""Edge nodes whose cpu, mem, delay and load drift over time; node logs on disk.

:class:`EdgeNodes` holds the state of N nodes and advances it one *step* (one sample) at a
time. The dynamics are documented in docs/edge.md; in short, per node and step:

- background load: mean-reverting (Ornstein-Uhlenbeck) around a target made of a baseline, a
  sinusoid (the periodic part), a drift offset that walks linearly to a new random level in
  each drift phase, plus decaying spikes (the bursty part) and Gaussian noise;
- cpu (available cores): mean-reverting around the node's nominal cores, reduced as the
  background load rises; the nominal value is redrawn now and then (cores reallocated);
- mem (available GB): mean-reverting around the nominal memory, reduced by background load
  and by the requests held at the node;
- delay (ms): a log-normal network base (mean-reverting in log space, with decaying
  congestion spikes), raised by the node's load (squared) and by its queue;
- load: background load plus the share of the last step the node spent serving requests.

Every quantity stays within its configured range (clipped). Time constants count steps, so a
log and a simulation with the same parameters evolve alike per sample whatever the sample
interval. Requests feed back through ``busy`` and ``queue`` in :meth:`EdgeNodes.step`; the log
generator passes neither, so logs show the background dynamics alone.

Node logs are CSV with the header ``timestamp,node_id,cpu,mem,delay,load`` (timestamp in
seconds since the first sample). :func:`read_node_logs` also reads the old five-column form
``node_id,cpu,mem,delay,load`` (with or without a header), numbering the steps by the order of
each node's rows.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schedlab.errors import DataError

__all__ = [
    "NodeParams",
    "EdgeNodes",
    "NodeLog",
    "STATE_COLUMNS",
    "LOG_COLUMNS",
    "generate_node_logs",
    "write_node_logs",
    "read_node_logs",
]

#: The observed state of a node, in this order along the last axis of state arrays.
STATE_COLUMNS = ("cpu", "mem", "delay", "load")
#: The columns of a node log, in file order.
LOG_COLUMNS = ("timestamp", "node_id", "cpu", "mem", "delay", "load")
_OLD_COLUMNS = LOG_COLUMNS[1:]

Range = tuple[float, float]


@dataclass(frozen=True)
class NodeParams:
    """Parameters of the node dynamics; see docs/edge.md for the equations.

    The defaults live in the scenario schema (:class:`schedlab.families.edge.scenario.EdgeClusterConfig`);
    build one with ``NodeParams.from_config(config)``. Rates are per step and per node; time
    constants count steps.

    Attributes:
        cpu: Range of available cores.
        mem: Range of available memory (GB).
        delay_ms: Range of the reported delay (ms).
        load: Range of the load (fraction of the node busy).
        load_base: Range of per-node baseline background load.
        load_amplitude: Range of per-node amplitude of the periodic part.
        load_period_steps: Range of per-node period of the periodic part (steps).
        load_reversion: Share of the gap to the target closed per step.
        load_noise: Standard deviation of the per-step load noise.
        drift_phase_steps: Mean length of a drift phase (steps, geometric).
        drift_amplitude: Drift levels are uniform in ``[-drift_amplitude, drift_amplitude]``.
        spike_rate: Probability of a load spike per step.
        spike_size: Range of a spike's size (load).
        spike_decay_steps: Time constant of a spike's exponential decay (steps).
        cpu_reversion: Share of the gap to the cpu target closed per step.
        cpu_noise: Standard deviation of the per-step cpu noise (cores).
        cpu_load_coupling: Share of the nominal cores lost at full background load.
        cpu_realloc_rate: Probability per step that the nominal cores are redrawn.
        mem_reversion: Share of the gap to the mem target closed per step.
        mem_noise: Standard deviation of the per-step mem noise (GB).
        mem_load_coupling: Share of the nominal memory lost at full background load.
        mem_per_request_gb: Memory held by each request at the node (GB).
        delay_base_ms: Range of per-node network base delay (ms, log-uniform).
        delay_reversion: Share of the gap to the base closed per step (log space).
        delay_noise: Standard deviation of the per-step noise of the log delay.
        delay_load_coupling: Delay grows by this factor times load squared.
        delay_queue_ms: Delay added per request at the node (ms).
        delay_spike_rate: Probability of a congestion spike per step.
        delay_spike_factor: Range of a spike's multiplicative size.
        delay_spike_decay_steps: Time constant of a congestion spike's decay (steps).
    """

    cpu: Range
    mem: Range
    delay_ms: Range
    load: Range
    load_base: Range
    load_amplitude: Range
    load_period_steps: Range
    load_reversion: float
    load_noise: float
    drift_phase_steps: float
    drift_amplitude: float
    spike_rate: float
    spike_size: Range
    spike_decay_steps: float
    cpu_reversion: float
    cpu_noise: float
    cpu_load_coupling: float
    cpu_realloc_rate: float
    mem_reversion: float
    mem_noise: float
    mem_load_coupling: float
    mem_per_request_gb: float
    delay_base_ms: Range
    delay_reversion: float
    delay_noise: float
    delay_load_coupling: float
    delay_queue_ms: float
    delay_spike_rate: float
    delay_spike_factor: Range
    delay_spike_decay_steps: float

    @classmethod
    def from_config(cls, config) -> NodeParams:
        """Build from an :class:`~schedlab.families.edge.scenario.EdgeClusterConfig`."""
        return cls(
            cpu=tuple(config.cpu),
            mem=tuple(config.mem),
            delay_ms=tuple(config.delay_ms),
            load=tuple(config.load),
            **{k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in config.dynamics.model_dump().items()},
        )


class EdgeNodes:
    """The state of ``n`` edge nodes, advanced one step at a time.

    After construction the arrays hold step 0; :meth:`step` moves to the next one.

    Args:
        n: Number of nodes.
        params: The dynamics' parameters.
        rng: The stream every draw comes from: static profiles first, then each step's.

    Attributes:
        cpu, mem, delay, load: The observed state (arrays of ``n``): available cores, available
            memory (GB), reported delay (ms), load (0..1).
        background: The load without the requests' share (0..1).
        steps: Steps taken since step 0.
    """

    def __init__(self, n: int, params: NodeParams, rng: np.random.Generator) -> None:
        if n < 1:
            raise ValueError(f"need at least one node, got {n}")
        p = self.params = params
        self.n = n
        self._rng = rng
        # Static profiles, drawn once.
        self.base = rng.uniform(*p.load_base, n)
        self.amplitude = rng.uniform(*p.load_amplitude, n)
        self.period = rng.uniform(*p.load_period_steps, n)
        self.phase = rng.uniform(0.0, 2 * math.pi, n)
        self.nominal_cpu = rng.uniform(*p.cpu, n)
        self.nominal_mem = rng.uniform(*p.mem, n)
        lo, hi = p.delay_base_ms
        self.log_base_delay = rng.uniform(math.log(lo), math.log(hi), n)
        # Dynamic state.
        self.steps = 0
        self._drift = np.zeros(n)
        self._drift_slope = np.zeros(n)
        self._phase_left = np.zeros(n, dtype=np.int64)
        self._renew_drift(np.ones(n, dtype=bool))
        self._x = self.base + self.amplitude * np.sin(self.phase)
        self._spike = np.zeros(n)
        self._cpu = self.nominal_cpu * (1 - p.cpu_load_coupling * np.clip(self._x, 0, 1))
        self._mem = self.nominal_mem * (1 - p.mem_load_coupling * np.clip(self._x, 0, 1))
        self._log_delay = self.log_base_delay.copy()
        self._delay_spike = np.zeros(n)
        self._spike_keep = math.exp(-1.0 / p.spike_decay_steps)
        self._delay_spike_keep = math.exp(-1.0 / p.delay_spike_decay_steps)
        self._observe(np.zeros(n), np.zeros(n))

    def step(self, busy: np.ndarray | None = None, queue: np.ndarray | None = None) -> None:
        """Advance one step.

        Args:
            busy: Per node, the share of the last step it spent serving requests (0..1).
            queue: Per node, the requests it holds now (waiting or in service).
        """
        p, n, rng = self.params, self.n, self._rng
        # The draws never depend on busy or queue, so every scheduler meets the same background
        # dynamics under one seed; only the requests' own effects differ.
        eps = rng.standard_normal((4, n))
        u = rng.random((3, n))
        spike_sizes = rng.uniform(*p.spike_size, n)
        delay_factors = rng.uniform(*p.delay_spike_factor, n)
        new_cpu = rng.uniform(*p.cpu, n)
        self.steps += 1
        k = self.steps

        self._drift += self._drift_slope
        self._phase_left -= 1
        ended = self._phase_left <= 0
        if ended.any():
            self._renew_drift(ended)
        target = self.base + self.amplitude * np.sin(2 * math.pi * k / self.period + self.phase) + self._drift
        self._x += p.load_reversion * (target - self._x) + p.load_noise * eps[0]
        self._spike = self._spike * self._spike_keep + np.where(u[0] < p.spike_rate, spike_sizes, 0.0)
        bg = np.clip(self._x + self._spike, 0.0, 1.0)

        self.nominal_cpu = np.where(u[1] < p.cpu_realloc_rate, new_cpu, self.nominal_cpu)
        cpu_target = self.nominal_cpu * (1 - p.cpu_load_coupling * bg)
        self._cpu = np.clip(
            self._cpu + p.cpu_reversion * (cpu_target - self._cpu) + p.cpu_noise * eps[1], p.cpu[0], p.cpu[1]
        )
        mem_target = self.nominal_mem * (1 - p.mem_load_coupling * bg)
        self._mem = np.clip(
            self._mem + p.mem_reversion * (mem_target - self._mem) + p.mem_noise * eps[2], p.mem[0], p.mem[1]
        )
        self._log_delay += p.delay_reversion * (self.log_base_delay - self._log_delay) + p.delay_noise * eps[3]
        self._delay_spike = self._delay_spike * self._delay_spike_keep + np.where(
            u[2] < p.delay_spike_rate, np.log(delay_factors), 0.0
        )
        self._observe(np.zeros(n) if busy is None else busy, np.zeros(n) if queue is None else queue)

    def _observe(self, busy: np.ndarray, queue: np.ndarray) -> None:
        p = self.params
        self.background = np.clip(self._x + self._spike, *p.load)
        self.load = np.clip(self.background + (1.0 - self.background) * np.clip(busy, 0.0, 1.0), *p.load)
        self.cpu = self._cpu.copy()
        self.mem = np.clip(self._mem - p.mem_per_request_gb * queue, *p.mem)
        net = np.exp(self._log_delay + self._delay_spike)
        self.delay = np.clip(net * (1 + p.delay_load_coupling * self.load**2) + p.delay_queue_ms * queue, *p.delay_ms)

    def _renew_drift(self, which: np.ndarray) -> None:
        p, rng = self.params, self._rng
        m = int(which.sum())
        length = rng.geometric(1.0 / max(1.0, p.drift_phase_steps), m)
        goal = rng.uniform(-p.drift_amplitude, p.drift_amplitude, m)
        self._phase_left[which] = length
        self._drift_slope[which] = (goal - self._drift[which]) / length

    def state(self) -> np.ndarray:
        """The observed state as an ``(n, 4)`` array, columns as in :data:`STATE_COLUMNS`."""
        return np.stack([self.cpu, self.mem, self.delay, self.load], axis=1)


@dataclass(frozen=True)
class NodeLog:
    """Samples of N nodes over T steps.

    Attributes:
        time_s: Sample times, seconds since the first sample, shape ``(T,)``.
        node_ids: The nodes' ids, in column order of ``values``.
        values: Shape ``(T, N, 4)``; the last axis is cpu, mem (GB), delay (ms), load.
    """

    time_s: np.ndarray
    node_ids: tuple[int, ...]
    values: np.ndarray

    @property
    def steps(self) -> int:
        """Number of samples per node."""
        return int(self.time_s.size)

    def column(self, name: str) -> np.ndarray:
        """One state column as a ``(T, N)`` array (``"cpu"``, ``"mem"``, ``"delay"`` or ``"load"``)."""
        return self.values[:, :, STATE_COLUMNS.index(name)]


def generate_node_logs(
    num_nodes: int,
    steps: int,
    interval_s: float,
    params: NodeParams,
    rng: np.random.Generator,
    *,
    progress: Callable[[int], None] | None = None,
) -> NodeLog:
    """Sample the background dynamics of ``num_nodes`` nodes for ``steps`` steps.

    Args:
        num_nodes: Nodes (at least 1).
        steps: Samples per node (at least 1); the first is the initial state.
        interval_s: Seconds between samples (positive); only sets the timestamps.
        params: The dynamics' parameters.
        rng: Source of every draw.
        progress: Called with the number of steps done, every 1000 steps and at the end.

    Raises:
        ValueError: A count is below 1 or the interval is not positive.
    """
    if num_nodes < 1:
        raise ValueError(f"num_nodes must be at least 1, got {num_nodes}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if not interval_s > 0 or not math.isfinite(interval_s):
        raise ValueError(f"interval must be a positive number of seconds, got {interval_s}")
    nodes = EdgeNodes(num_nodes, params, rng)
    values = np.empty((steps, num_nodes, 4))
    values[0] = nodes.state()
    for k in range(1, steps):
        nodes.step()
        values[k] = nodes.state()
        if progress is not None and k % 1000 == 0:
            progress(k)
    if progress is not None:
        progress(steps)
    time_s = np.round(np.arange(steps) * interval_s, 9)
    return NodeLog(time_s, tuple(range(num_nodes)), values)


def write_node_logs(path: str | os.PathLike, log: NodeLog) -> Path:
    """Write a log as CSV (``timestamp,node_id,cpu,mem,delay,load``), atomically."""
    from schedlab.sim.io import write_atomic

    buf = io.StringIO()
    buf.write(",".join(LOG_COLUMNS) + "\n")
    for k, t in enumerate(log.time_s.tolist()):
        ts = f"{t:.9g}"
        for i, node in enumerate(log.node_ids):
            cpu, mem, delay, load = log.values[k, i].tolist()
            buf.write(f"{ts},{node},{cpu:.4f},{mem:.4f},{delay:.3f},{load:.5f}\n")
    p = Path(path)
    write_atomic(p, buf.getvalue().encode())
    return p


def read_node_logs(path: str | os.PathLike, *, interval_s: float = 0.02) -> NodeLog:
    """Read a node log: the timestamped form, or the old five-column one.

    A header row names the columns (in any order; ``timestamp`` is optional). Without one, six
    fields per row are ``timestamp,node_id,cpu,mem,delay,load`` and five are the old
    ``node_id,cpu,mem,delay,load``. Without timestamps, a node's k-th row is step k and its
    time is ``k * interval_s``. Every step must hold one row per node.

    Args:
        path: The CSV file.
        interval_s: Seconds between samples, for logs without timestamps.

    Raises:
        DataError: The file is missing or malformed; the message names the file, the line and
            the column.
    """
    from schedlab.scenarios.files import read_text

    p = Path(path)
    src = str(p)
    if not p.exists():
        raise DataError("no such file", source=src)
    text = read_text(p, what="node log (CSV)", error=DataError)
    rows = [(i, r) for i, r in enumerate(csv.reader(io.StringIO(text)), start=1) if r and any(f.strip() for f in r)]
    if not rows:
        raise DataError("empty node log", source=src)
    first = [f.strip() for f in rows[0][1]]
    if not _is_number(first[0]):
        missing = [c for c in _OLD_COLUMNS if c not in first]
        unknown = [c for c in first if c not in LOG_COLUMNS]
        if missing or unknown:
            what = f"missing column(s) {', '.join(missing)}" if missing else f"unknown column(s) {', '.join(unknown)}"
            raise DataError(f"{what}; expected {','.join(LOG_COLUMNS)}", source=src, field="line 1")
        columns = first
        rows = rows[1:]
    elif len(first) == 6:
        columns = list(LOG_COLUMNS)
    elif len(first) == 5:
        columns = list(_OLD_COLUMNS)
    else:
        raise DataError(
            f"expected 6 fields ({','.join(LOG_COLUMNS)}) or 5 ({','.join(_OLD_COLUMNS)}), got {len(first)}",
            source=src,
            field=f"line {rows[0][0]}",
        )
    if not rows:
        raise DataError("node log has a header but no rows", source=src)
    width = len(columns)
    timed = "timestamp" in columns
    idx = {c: columns.index(c) for c in columns}
    node_col: list[int] = []
    time_col: list[float] = []
    state = np.empty((len(rows), 4))
    for r, (line, fields) in enumerate(rows):
        if len(fields) != width:
            raise DataError(f"expected {width} fields ({','.join(columns)}), got {len(fields)}", source=src,
                            field=f"line {line}")  # fmt: skip
        node = fields[idx["node_id"]].strip()
        try:
            node_id = int(node)
        except ValueError:
            raise DataError(f"expected an integer node id, got {_short(node)}", source=src,
                            field=f"line {line}, column node_id") from None  # fmt: skip
        if not 0 <= node_id < _MAX_NODE_ID:
            raise DataError(f"expected a node id from 0 to {_MAX_NODE_ID - 1}, got {_short(node)}", source=src,
                            field=f"line {line}, column node_id") from None  # fmt: skip
        node_col.append(node_id)
        for j, name in enumerate(STATE_COLUMNS):
            state[r, j] = _number(fields[idx[name]], src, line, name)
        if timed:
            time_col.append(_number(fields[idx["timestamp"]], src, line, "timestamp"))
    nodes = np.asarray(node_col)
    ids = np.unique(nodes)
    if timed and np.unique(np.asarray(time_col)).size * ids.size > max(4 * len(rows), 10**6):
        # Fewer rows than steps x nodes: some node lacks a row at some step. Said here, before
        # the (steps x nodes) count below, which a log of scattered ids and times would make huge.
        raise DataError(
            f"{len(rows)} rows for {ids.size} nodes over {np.unique(np.asarray(time_col)).size} timestamps; "
            "every timestamp needs exactly one row per node",
            source=src,
        )
    if timed:
        times = np.asarray(time_col)
        stamps, step = np.unique(times, return_inverse=True)
    else:
        # The k-th row of a node is its step k.
        step = np.empty(nodes.size, dtype=np.int64)
        seen: dict[int, int] = {}
        for r, node in enumerate(node_col):
            step[r] = seen.get(node, 0)
            seen[node] = step[r] + 1
        stamps = np.round(np.arange(int(step.max()) + 1) * interval_s, 9)
    col = np.searchsorted(ids, nodes)
    count = np.zeros((stamps.size, ids.size), dtype=np.int64)
    np.add.at(count, (step, col), 1)
    bad = np.argwhere(count != 1)
    if bad.size:
        k, i = bad[0]
        at = f"timestamp {stamps[k]:g}" if timed else f"step {k}"
        n_rows = int(count[k, i])
        raise DataError(
            f"node {ids[i]} has {n_rows} rows at {at}, expected exactly one (every step needs one row per node)",
            source=src,
        )
    values = np.empty((stamps.size, ids.size, 4))
    values[step, col] = state
    times_s = stamps - stamps[0] if timed else stamps
    return NodeLog(np.asarray(times_s, dtype=np.float64), tuple(int(x) for x in ids), values)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, src: str, line: int, column: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise DataError(f"expected a number, got {_short(text)}", source=src,
                        field=f"line {line}, column {column}") from None  # fmt: skip
    if not math.isfinite(x):
        raise DataError(f"expected a finite number, got {_short(text)}", source=src,
                        field=f"line {line}, column {column}")  # fmt: skip
    low = -_MAX_VALUE if column == "timestamp" else 0.0
    if not low <= x <= _MAX_VALUE:
        raise DataError(f"expected a number from {low:g} to {_MAX_VALUE:g}, got {_short(text)}", source=src,
                        field=f"line {line}, column {column}")  # fmt: skip
    return x


#: Bounds of a node log's values: ids are small integers, and a state (cores, GB, ms, load)
#: or a timestamp (s) beyond 1e12 is a damaged file, not a node.
_MAX_NODE_ID = 2**31
_MAX_VALUE = 1e12


def _short(text: str) -> str:
    """A field as an error message quotes it: at most a few dozen characters."""
    text = text.strip()
    return repr(text) if len(text) <= 40 else f"{text[:30]!r}... ({len(text)} characters)"
