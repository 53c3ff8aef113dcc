"""Worker processes that run hetero tasks for real, one process per node.

Two executors with one interface (:class:`Executor`):

- :class:`LocalExecutor`: one worker process per node on this machine (``spawn``), each
  talking to the parent over its own pipe. A node's process runs one task at a time; the
  parent hands it the next task only when the last one has come back, so the node's FIFO
  queue stays in the parent, where the scheduler's views see it.
- :class:`RayExecutor`: one Ray actor per node, pinned to the node with the custom resource
  ``{"schedlab_node_<i>": 1}`` (and one CPU). On a Ray cluster whose machines advertise those
  resources, node ``i`` runs where ``schedlab_node_<i>`` is.

Each task's time is measured inside the worker (``time.perf_counter`` around the work), so
it leaves out the hand-over to the worker and back. Before a run, each worker runs every task
type once at its smallest work size (:data:`WARMUP`): a first call pays for imports, page
faults and BLAS set-up that later ones do not. Worker processes run NumPy's BLAS on
:attr:`Executor.threads` threads (1 by default: a node is one worker process, and several on
a few cores would otherwise fight over them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import NamedTuple

from schedlab.errors import ConfigError, SchedlabError

__all__ = [
    "Done",
    "Executor",
    "LocalExecutor",
    "RayExecutor",
    "LiveError",
    "WARMUP",
    "THREAD_VARIABLES",
    "make_executor",
]

#: Environment variables that set the BLAS/OpenMP thread count of a worker process.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")
#: ``(type, work size)`` every worker runs once before it reports ready.
WARMUP: tuple[tuple[str, int], ...] = (("matmul", 32), ("primes", 1000), ("sort", 1000), ("file_io", 3))
#: Seconds a worker may take to start and warm up before the run gives up.
START_TIMEOUT_S = 120.0


class LiveError(SchedlabError):
    """A live run failed: a worker process died, a task raised, or a worker never started."""


class Done(NamedTuple):
    """A task that came back from a node.

    Attributes:
        node: The node (worker) that ran it.
        item: The task's id, as given to :meth:`Executor.submit`.
        seconds: Wall seconds the work took, measured in the worker.
        where: The worker process: ``host:pid``.
    """

    node: int
    item: int
    seconds: float
    where: str


class Executor:
    """What a live run needs from its workers: start, submit, wait, close.

    Args:
        nodes: Number of nodes; node ``i`` is worker ``i``.
        threads: BLAS threads per worker process.
    """

    backend = "none"

    def __init__(self, nodes: int, *, threads: int = 1) -> None:
        if nodes < 1:
            raise ConfigError(f"a live run needs at least one node, got {nodes}")
        self.nodes = nodes
        self.threads = threads
        #: Per node, ``host:pid`` of its worker once started.
        self.where: list[str] = []

    def start(self) -> None:
        """Start the workers and wait until each has warmed up."""
        raise NotImplementedError

    def submit(self, node: int, item: int, task_type: str, work_size: int) -> None:
        """Hand a task to an idle node."""
        raise NotImplementedError

    def wait(self, timeout: float | None) -> list[Done]:
        """Wait up to ``timeout`` seconds (None: no limit) for tasks to come back; return them."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the workers; no process of theirs is left running."""
        raise NotImplementedError

    def __enter__(self) -> Executor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _thread_env(threads: int) -> dict[str, str]:
    return {k: str(threads) for k in THREAD_VARIABLES}


def _serve(conn, warmup: Sequence[tuple[str, int]]) -> None:
    """A local worker's loop: warm up, say ready, then run ``(item, type, size)`` until ``None``."""
    import socket

    from schedlab.families.hetero.live.work import do_work, timed_work

    for t, n in warmup:
        do_work(t, n)
    conn.send(("ready", f"{socket.gethostname()}:{os.getpid()}"))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        item, t, n = msg
        try:
            conn.send(("done", item, timed_work(t, n)))
        except Exception as e:  # noqa: BLE001 - reported to the parent, which fails the run
            conn.send(("error", item, f"{type(e).__name__}: {e}"))


class LocalExecutor(Executor):
    """One ``spawn``-ed worker process per node on this machine."""

    backend = "local"

    def __init__(self, nodes: int, *, threads: int = 1) -> None:
        super().__init__(nodes, threads=threads)
        self._procs: list = []
        self._conns: list = []

    def start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        # The thread count must be in a worker's environment before it loads NumPy; a spawned
        # process copies the parent's environment when it starts, so set it around the starts
        # and put the parent's own back at once.
        saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
        os.environ.update(_thread_env(self.threads))
        try:
            for _ in range(self.nodes):
                parent, child = ctx.Pipe()
                p = ctx.Process(target=_serve, args=(child, WARMUP), daemon=True, name="schedlab-node")
                p.start()
                child.close()
                self._procs.append(p)
                self._conns.append(parent)
        except BaseException:
            self.close()
            raise
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        self.where = [""] * self.nodes
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            for j, conn in enumerate(self._conns):
                msg = self._recv(j, conn, deadline - time.monotonic())
                if msg is None:
                    raise LiveError(f"the worker process of node {j} did not start within {START_TIMEOUT_S:g} s")
                self.where[j] = msg[1]
        except BaseException:
            self.close()
            raise

    def _recv(self, node: int, conn, timeout: float):
        from multiprocessing.connection import wait

        ready = wait([conn, self._procs[node].sentinel], max(0.0, timeout))
        if conn in ready:
            try:
                return conn.recv()
            except EOFError:
                pass
        elif not ready:
            return None
        raise LiveError(self._died(node))

    def submit(self, node: int, item: int, task_type: str, work_size: int) -> None:
        self._conns[node].send((item, task_type, int(work_size)))

    def wait(self, timeout: float | None) -> list[Done]:
        from multiprocessing.connection import wait

        watch = self._conns + [p.sentinel for p in self._procs]
        ready = wait(watch, timeout)
        out = []
        for j, conn in enumerate(self._conns):
            if conn in ready:
                try:
                    msg = conn.recv()
                except EOFError:
                    msg = None
                if msg is None:
                    raise LiveError(self._died(j))
                if msg[0] == "error":
                    raise LiveError(f"task {msg[1]} failed on node {j}: {msg[2]}")
                out.append(Done(j, msg[1], msg[2], self.where[j]))
        if not out:
            for j, p in enumerate(self._procs):
                if p.sentinel in ready:
                    raise LiveError(self._died(j))
        return out

    def _died(self, node: int) -> str:
        p = self._procs[node]
        p.join(timeout=1)  # the exit code is known once the process is reaped
        return f"the worker process of node {node} died (exit code {p.exitcode})"

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        for p in self._procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


class _NodeActor:
    """A Ray actor: one node's worker process."""

    def __init__(self, warmup: Sequence[tuple[str, int]]) -> None:
        from schedlab.families.hetero.live.work import do_work

        for t, n in warmup:
            do_work(t, n)

    def where(self) -> str:
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    def run(self, item: int, task_type: str, work_size: int) -> tuple[int, float]:
        from schedlab.families.hetero.live.work import timed_work

        return item, timed_work(task_type, work_size)


def node_resource(node: int) -> str:
    """The Ray custom resource that pins a node's actor: ``schedlab_node_<node>``."""
    return f"schedlab_node_{node}"


class RayExecutor(Executor):
    """One Ray actor per node, pinned by the custom resource ``schedlab_node_<i>``.

    Args:
        nodes: Number of nodes.
        address: A running Ray cluster to join (``ray.init(address=...)``). None: use the Ray
            this process has already started, or start a local one with ``cpus`` CPUs and one
            ``schedlab_node_<i>`` resource per node (and shut it down on :meth:`close`).
        cpus: CPUs of a local Ray this executor starts.
        threads: BLAS threads per actor.

    Raises:
        ConfigError: Ray is not installed, or the cluster lacks a node's resource.
    """

    backend = "ray"

    def __init__(self, nodes: int, *, address: str | None = None, cpus: int | None = None, threads: int = 1) -> None:
        super().__init__(nodes, threads=threads)
        self.address = address
        self.cpus = cpus
        self._owns_ray = False
        self._actors: list = []
        self._pending: dict = {}

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray: pip install 'schedlab[ray]'", field="--ray") from None
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.address is not None:
                ray.init(address=self.address, **kwargs)
            else:
                resources = {node_resource(j): 1 for j in range(self.nodes)}
                ray.init(num_cpus=self.cpus or max(self.nodes, 1), resources=resources, **kwargs)
            self._owns_ray = True
        have = ray.cluster_resources()
        missing = [node_resource(j) for j in range(self.nodes) if have.get(node_resource(j), 0) < 1]
        if missing:
            self.close()
            raise ConfigError(
                f"the Ray cluster lacks the custom resource(s) {', '.join(missing)}; start each machine "
                f"with ray start --resources '{{\"schedlab_node_<i>\": 1}}' for the nodes it runs",
                field="--ray-address",
            )
        actor = ray.remote(_NodeActor)
        env = {"env_vars": _thread_env(self.threads)}
        try:
            self._actors = [
                actor.options(resources={node_resource(j): 1}, num_cpus=1, runtime_env=env).remote(WARMUP)
                for j in range(self.nodes)
            ]
            self.where = ray.get([a.where.remote() for a in self._actors], timeout=START_TIMEOUT_S)
        except BaseException as e:
            self.close()
            if isinstance(e, ray.exceptions.GetTimeoutError):
                raise LiveError(f"the Ray actors did not start within {START_TIMEOUT_S:g} s") from None
            raise

    def submit(self, node: int, item: int, task_type: str, work_size: int) -> None:
        ref = self._actors[node].run.remote(item, task_type, int(work_size))
        self._pending[ref] = node

    def wait(self, timeout: float | None) -> list[Done]:
        import ray

        if not self._pending:
            if timeout is not None:
                time.sleep(timeout)
            return []
        ready, rest = ray.wait(list(self._pending), num_returns=1, timeout=timeout)
        if not ready:
            return []
        if rest:  # whatever else is done by now, without waiting
            ready += ray.wait(rest, num_returns=len(rest), timeout=0)[0]
        out = []
        for ref in ready:
            node = self._pending.pop(ref)
            try:
                item, seconds = ray.get(ref)
            except ray.exceptions.RayError as e:
                raise LiveError(f"a task failed on node {node}: {str(e).splitlines()[0]}") from None
            out.append(Done(node, item, seconds, self.where[node]))
        return out

    def close(self) -> None:
        try:
            import ray
        except ImportError:
            return
        for a in self._actors:
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors, self._pending = [], {}
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False


def make_executor(
    nodes: int, *, workers: int | None = None, ray: bool = False, ray_address: str | None = None, threads: int = 1
) -> Executor:
    """The executor of a live run: Ray if asked for, else a local process per node.

    Args:
        nodes: The scenario's nodes, each one worker process.
        workers: Worker processes allowed (default: one per core); must be at least
            ``nodes``. With Ray and no address, the CPUs of the local Ray.
        ray: Run on Ray.
        ray_address: A Ray cluster to join (implies ``ray``).
        threads: BLAS threads per worker.

    Raises:
        ConfigError: Fewer workers than nodes, or fewer than 1.
    """
    cores = os.cpu_count() or 1
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", field="--workers")
    if ray or ray_address is not None:
        return RayExecutor(nodes, address=ray_address, cpus=workers or max(nodes, cores), threads=threads)
    allowed = workers if workers is not None else cores
    if nodes > allowed:
        given = f"--workers {workers}" if workers is not None else f"one per core, {cores} here"
        raise ConfigError(
            f"each node is one worker process: the scenario has {nodes} nodes but the run may start "
            f"{allowed} ({given}); raise --workers or use fewer nodes",
            field="--workers",
        )
    return LocalExecutor(nodes, threads=threads)
