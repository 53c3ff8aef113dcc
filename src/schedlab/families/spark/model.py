"""Spark: DAG jobs whose stages run on executors, with moving delays between jobs.

This model reproduces the semantics of the reference Spark scheduling simulator used by Decima
and NetLLM (see docs/spark.md): executors live in pools (the common pool, a job's pool of idle
executors, a stage's pool); a *scheduling round* hands the free executors of one *source* pool
to stages, each decision committing up to a parallelism limit; an executor committed to a stage
of another job moves there first (``moving_delay_ms``); an executor keeps taking tasks of its
stage until none is left to launch; task durations are drawn from the stage's profile by the
executor's situation (fresh, first wave, rest wave) and the number of executors at the job.

With faults (the scenario's ``faults`` section, docs/faults.md), an executor that crashes (or
is lost during a move) leaves every pool and its job; the task it ran is lost and goes back to
its stage, which launches it again (same task index) on the next executor that takes a task of
the stage; a commitment its pool can no longer keep is dropped. A repaired executor comes back
to the common pool, fresh. The view marks dead executors (``ExecutorView.alive``); a round only
ever hands out live ones. A straggler's task takes ``factor`` times its drawn duration.

Times are in milliseconds, except the views' ``now``, in seconds as in every family
(``now_ms`` has it in milliseconds).
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from heapq import heapify, heappop, heappush
from typing import NamedTuple

import numpy as np

from schedlab.errors import ConfigError, InvalidActionError
from schedlab.families.spark.dag import EXECUTOR_LEVELS, JobTemplate
from schedlab.sim.actions import Assign
from schedlab.sim.engine import Engine
from schedlab.sim.faults import FaultInjector, FaultSpec
from schedlab.sim.trace import Trace, fill_table

__all__ = [
    "SparkCluster",
    "SparkView",
    "JobView",
    "StageView",
    "ExecutorView",
    "SparkSnapshot",
    "JobSnapshot",
    "StageSnapshot",
]

_UNIFORM_BLOCK = 8192  # uniforms drawn per refill: one NumPy call instead of thousands


class _Pool:
    """Where executors wait: the common pool (job None), a job's pool (stage None) or a stage's."""

    __slots__ = ("job", "stage", "members", "out", "n_out", "due")

    def __init__(self, job: _Job | None, stage: _Stage | None) -> None:
        self.job = job
        self.stage = stage
        self.members: set[int] = set()
        #: Commitments out of this pool: destination pool -> executors (insertion ordered).
        self.out: dict[_Pool, int] = {}
        self.n_out = 0
        #: With decision time charged, when the commitments to each stage pool take effect:
        #: destination -> ``[effect time, executors]`` entries, oldest first. None without.
        self.due: dict[_Pool, deque[list]] | None = None


class _Stage:
    __slots__ = (
        "job", "index", "gid", "num_tasks", "remaining", "running", "done", "recent_ms", "parents",
        "children", "table", "pool", "commit_to", "moving_to", "view",
    )  # fmt: skip

    def __init__(self, job: _Job, index: int, num_tasks: int, rough_ms: float, table) -> None:
        self.job = job
        self.index = index
        self.gid = -1  # position among all stages of the episode
        self.num_tasks = num_tasks
        self.remaining = num_tasks  # tasks not yet launched
        self.running = 0
        self.done = 0
        self.recent_ms = rough_ms
        self.parents: tuple[_Stage, ...] = ()
        self.children: tuple[_Stage, ...] = ()
        self.table = table
        self.pool = _Pool(job, self)
        self.commit_to = 0
        self.moving_to = 0
        self.view: StageView | None = None


class _Job:
    __slots__ = (
        "id", "name", "arrival", "completion", "stages", "active", "frontier", "local", "supply",
        "saturated", "pool", "view",
    )  # fmt: skip

    def __init__(self, job_id: int, arrival: float, template: JobTemplate) -> None:
        self.id = job_id
        self.name = template.name
        self.arrival = arrival
        self.completion: float | None = None
        self.stages = [_Stage(self, s.index, s.num_tasks, s.rough_duration_ms, s.table) for s in template.stages]
        for st, s in zip(self.stages, template.stages):
            st.parents = tuple(self.stages[p] for p in s.parents)
        kids: list[list[_Stage]] = [[] for _ in self.stages]
        for st in self.stages:
            for p in st.parents:
                kids[p.index].append(st)
        for st in self.stages:
            st.children = tuple(kids[st.index])
        self.active = list(self.stages)  # incomplete stages, in stage order
        self.frontier = {st for st in self.stages if not st.parents}
        self.local: set[int] = set()  # executors at this job (not moving to it)
        #: Executors sent or committed to this job, the reference's "exec supply". Like the
        #: reference, executors a saturated job releases to the common pool stay counted.
        self.supply = 0
        self.saturated = 0  # stages with no task left to launch
        self.pool = _Pool(self, None)
        self.view: JobView | None = None


class _SparkFaults:
    """The fault-aware parts of :class:`SparkCluster`; :meth:`enable_faults` installs them.

    A run without faults never calls these: its hot path stays as it was.
    """

    def enable_faults(self, spec: FaultSpec, rng) -> None:
        """Run with faults (before :meth:`start`): executors crash or get lost moving, tasks straggle.

        Args:
            spec: The faults, in milliseconds.
            rng: Their own stream (:func:`~schedlab.sim.faults.fault_stream`).
        """
        n = self.num_executors
        self.faults = FaultInjector(
            self.engine, spec, n, rng, crash=self._crash, repair=self._repair, can_lose=self._can_lose
        )
        self._row_task: list[int] = []  # per task row, its task index within its stage
        self._failed_rows: set[int] = set()
        self._ex_row = [-1] * n  # per executor, the row of the task it runs
        self._ex_move = [-1] * n  # per executor, the row of the move it is on
        self._fresh = [0] * len(self._stages)  # per stage, its next never-launched task index
        self._lost: list[list[int]] = [[] for _ in self._stages]  # per stage, lost task indices (a heap)
        # Instance attributes shadow the methods: the hot path pushes and calls these instead.
        self._done = self._on_task_done_faulty
        self._ready = self._on_executor_ready_faulty
        self._release = self._release_faulty
        self._launch = self._launch_faulty
        self._send = self._send_faulty

    # -- tasks: indices, stragglers, rows ------------------------------------------------

    def _draw(self, e: int, stage: _Stage, sticky: bool) -> float:
        """A task duration, drawn exactly as the fault-free hot path draws it."""
        n = len(stage.job.local)
        key, hi = self._intervals[n]
        u = self._uniform
        if key != hi and 1 + int(u() * (hi - key)) > n - key:
            key = hi
        idle, warm, same, other = stage.table[key]
        if sticky:
            return same[int(u() * len(same))]
        last = self.ex_last[e]
        if last is None:
            d = idle[int(u() * len(idle))]
            if warm:
                d += self.warmup
        elif last is stage:
            d = same[int(u() * len(same))]
        else:
            d = other[int(u() * len(other))]
        return d

    def _run_task(self, e: int, stage: _Stage, d: float) -> None:
        """Start the next task of ``stage`` (a lost one first) on ``e`` for ``d`` ms (times a straggler's factor)."""
        lost = self._lost[stage.gid]
        if lost:
            k = heappop(lost)
        else:
            k = self._fresh[stage.gid]
            self._fresh[stage.gid] = k + 1
        now = self.engine.now
        d *= self.faults.slowdown(stage.job.id, stage.index, k, e, now)
        end = now + d
        self._ex_row[e] = len(self._row_task)
        self._row_task.append(k)
        self._log((stage.gid, e, now, end))
        heappush(self._heap, (end, next(self._seq), self._done, e, stage))

    def _launch_faulty(self, e: int, stage: _Stage) -> None:
        job = stage.job
        r = stage.remaining - 1
        stage.remaining = r
        stage.running += 1
        if r == 0:
            job.saturated += 1
        d = self._draw(e, stage, False)
        self.ex_last[e] = stage
        self.ex_busy[e] = True
        stage.recent_ms = d
        self._run_task(e, stage, d)

    def _on_task_done_faulty(self, now: float, e: int, stage: _Stage) -> bool:
        self._ex_row[e] = -1
        if stage.remaining > 0:
            # The sticky case of _on_task_done, with task indices and stragglers.
            stage.done += 1
            r = stage.remaining - 1
            stage.remaining = r
            if r == 0:
                stage.job.saturated += 1
            d = self._draw(e, stage, True)
            stage.recent_ms = d
            self._run_task(e, stage, d)
            return False
        return SparkCluster._on_task_done(self, now, e, stage)

    # -- moves ---------------------------------------------------------------------------

    def _send_faulty(self, e: int, stage: _Stage) -> None:
        SparkCluster._send(self, e, stage)
        self._ex_move[e] = len(self._move_log) // 4 - 1
        frac = self.faults.move_loss()
        if frac is not None:
            heappush(
                self._heap, (self.engine.now + frac * self.moving_delay, next(self._seq), self._lose_on_move, e, stage)
            )

    def _on_executor_ready_faulty(self, now: float, e: int, stage: _Stage) -> bool:
        self._ex_move[e] = -1
        opened = SparkCluster._on_executor_ready(self, now, e, stage)
        if not opened and self.ex_pool[e] is stage.job.pool:
            opened = self._unstall(stage.job)
        return opened

    def _release_faulty(self, now: float, e: int, held: tuple[_Pool, _Stage]) -> bool:
        opened = SparkCluster._release(self, now, e, held)
        stage = held[1]
        if not opened and self.ex_pool[e] is stage.job.pool:
            opened = self._unstall(stage.job)
        return opened

    def _unstall(self, job: _Job) -> bool:
        """Open a round for the idle executors waiting at ``job`` if nothing else ever will.

        An executor waits at its job while its stage's parents finish. Without faults a parent
        always has a task running or an executor on its way, whose end opens the round that
        puts the waiting executors to work; a fault can take those away, and then the waiting
        executors would wait forever. So when no stage of the job has a task running or an
        executor coming, the job's idle executors become the source of a round.
        """
        pool = job.pool
        if job.completion is not None or len(pool.members) - pool.n_out <= 0:
            return False
        if any(st.running or st.moving_to or st.commit_to for st in job.active):
            return False
        self.source = pool
        return self._check()

    def _lose_on_move(self, now: float, e: int, stage: _Stage) -> bool:
        """The executor is lost on its way, unless it already failed or the workload needs it for good."""
        if self._ex_move[e] < 0 or not self.faults.may_fail(e):
            return False
        self.faults.alive[e] = False
        lost, opened = self._crash(now, e)
        self.faults.fail(now, e, "lost_on_move", lost)
        return opened

    # -- crashes and repairs -------------------------------------------------------------

    def _crash(self, now: float, e: int) -> tuple[tuple[int, int, int] | None, bool]:
        """Executor ``e`` died: take back its task, its move or its hold, and its place in pools."""
        cancel = self.engine.cancel
        lost = None
        reopened: _Stage | None = None
        ev = cancel(self._done, e)
        if ev is not None:
            stage = ev[4]
            row = self._ex_row[e]
            self._ex_row[e] = -1
            self._task_log[4 * row + 3] = now
            self._failed_rows.add(row)
            k = self._row_task[row]
            heappush(self._lost[stage.gid], k)
            stage.running -= 1
            if stage.remaining == 0:
                stage.job.saturated -= 1
            stage.remaining += 1
            lost = (stage.job.id, stage.index, k)
            reopened = stage
        elif (ev := cancel(self._ready, e)) is not None:
            stage = ev[4]
            stage.moving_to -= 1
            stage.job.supply -= 1
            row = self._ex_move[e]
            self._ex_move[e] = -1
            self._move_log[4 * row + 3] = now
            reopened = stage
        elif (ev := cancel(self._release, e)) is not None:
            src, stage = ev[4]
            stage.moving_to -= 1
            if stage.job is not src.job:
                stage.job.supply -= 1
            if src.job is not None:
                src.job.supply -= 1
            reopened = stage
        pool = self.ex_pool[e]
        if pool is not None:
            pool.members.discard(e)
            self.ex_pool[e] = None
            if pool.job is not None:
                pool.job.supply -= 1
            self._keep_commitments(pool)
        if self.ex_job[e] is not None:
            self._detach(self.ex_job[e], e)
        self.ex_last[e] = None
        self.ex_busy[e] = False
        # Free executors may take what the dead one left: those waiting at its stage's job, else
        # the common pool's.
        if reopened is not None and self._unstall(reopened.job):
            return lost, True
        common = self.common
        if self._committable() <= 0 and len(common.members) - common.n_out > 0:
            self.source = common
        return lost, self._check()

    def _keep_commitments(self, pool: _Pool) -> None:
        """Drop the newest commitments out of ``pool`` that its executors can no longer keep."""
        while pool.n_out > len(pool.members):
            dst = next(reversed(pool.out))
            _release(pool, dst)
            q = pool.due.get(dst) if pool.due is not None else None
            if q:
                last = q[-1]
                if last[1] > 1:
                    last[1] -= 1
                else:
                    q.pop()
                    if not q:
                        del pool.due[dst]

    def _repair(self, now: float, e: int) -> bool:
        """Executor ``e`` is back, fresh, in the common pool."""
        self.common.members.add(e)
        self.ex_pool[e] = self.common
        if self._committable() <= 0:
            self.source = self.common
        return self._check()

    def _can_lose(self, e: int) -> bool:
        return any(up for x, up in enumerate(self.faults.alive) if x != e)


class SparkCluster(_SparkFaults):
    """The Spark family's model on an :class:`~schedlab.sim.engine.Engine`.

    Args:
        engine: The engine this model schedules its events on.
        jobs: ``(arrival_ms, template)`` pairs, in arrival order.
        num_executors: Executors in the cluster.
        moving_delay_ms: Time an executor needs to move to another job.
        warmup_delay_ms: Added to a first-wave duration when an idle executor has no fresh
            profile to draw from.
        rng: The stream task durations are drawn from.
    """

    family = "spark"
    time_unit = "ms"

    def __init__(
        self,
        engine: Engine,
        jobs: Sequence[tuple[float, JobTemplate]],
        *,
        num_executors: int,
        moving_delay_ms: float,
        warmup_delay_ms: float,
        rng: np.random.Generator,
    ) -> None:
        self.engine = engine
        self.num_executors = num_executors
        self.moving_delay = moving_delay_ms
        self.warmup = warmup_delay_ms
        self._rng = rng
        self.jobs = [_Job(i, t, tmpl) for i, (t, tmpl) in enumerate(jobs)]
        self._stages = [st for j in self.jobs for st in j.stages]
        for gid, st in enumerate(self._stages):
            st.gid = gid
        self.active_jobs: list[_Job] = []
        self.common = _Pool(None, None)
        self.common.members.update(range(num_executors))
        self.ex_pool: list[_Pool | None] = [self.common] * num_executors
        self.ex_job: list[_Job | None] = [None] * num_executors
        self.ex_last: list[_Stage | None] = [None] * num_executors  # None: idle
        self.ex_busy = [False] * num_executors
        self.source: _Pool | None = self.common
        self.selected: set[_Stage] = set()
        self._sched: list[_Stage] = []
        # The views' tuples of the jobs in the system and of the schedulable stages, built on
        # first use and kept while those do not change: a scheduler reads them many times per
        # decision (fair: once per job it considers). _sched is only ever replaced, never
        # changed in place, so the list it was built from tells whether it is still current.
        self._jobs_seen: tuple[JobView, ...] | None = None
        self._sched_seen: tuple[list[_Stage], tuple[StageView, ...]] = ([], ())
        self._intervals = _executor_intervals(num_executors)
        self._uniform = _uniforms(rng)
        self._heap = engine.heap
        self._seq = engine.seq
        self._task_log: list = []  # flat (stage gid, executor, start, end) quadruples
        self._log = self._task_log.extend
        # Flat (executor, job, start, end) quadruples too: a long run makes millions of moves,
        # and as tuples they would all be objects the garbage collector walks again and again.
        self._move_log: list = []
        self._decision_rows: list[tuple] = []
        # Bound once: the hot path pushes these with every task.
        self._done = self._on_task_done
        self._ready = self._on_executor_ready
        #: The run's faults, or None (see :meth:`enable_faults`).
        self.faults: FaultInjector | None = None
        #: Sequence number of job 0's arrival when arrivals are pushed one by one, else None.
        self._arrival_seq: int | None = None
        self._fork_parts: tuple[dict, list[dict]] | None = None  # built by the first fork

    # -- driving the model ---------------------------------------------------------------

    def start(self) -> bool:
        """Schedule the job arrivals and admit those at t=0; True if a round opens now."""
        jobs = self.jobs
        engine = self.engine
        if jobs and jobs[0].arrival >= engine.now and all(a.arrival <= b.arrival for a, b in zip(jobs, jobs[1:])):
            # Jobs in arrival order: each arrival is pushed by the one before it, with the
            # sequence number it would have had had all been pushed now, so events run in the
            # same order (and count the same) while the heap holds one arrival instead of the
            # whole workload's, which every push and pop of a big run would sift through.
            self._arrival_seq = next(self._seq)
            deque(itertools.islice(self._seq, len(jobs) - 1), maxlen=0)
            # Like the reference, all jobs present at t=0 are admitted before the first round
            # (the events taken at once, as Engine.take_due takes them).
            k = 0
            while k < len(jobs) and jobs[k].arrival <= 0.0:
                k += 1
            if k:
                engine.now = jobs[k - 1].arrival
                engine.events += k
                for job in jobs[:k]:
                    self._admit(job)
            self._schedule_arrival(k)
        else:
            for job in jobs:
                engine.schedule(job.arrival, self._on_job_arrival, job)
            for job, _ in engine.take_due(0.0):
                self._admit(job)
        if self.faults is not None:
            self.faults.start()
        return self._check()

    def view(self) -> SparkView:
        """The read-only view a scheduler sees at the current decision point."""
        return SparkView(self)

    def fork(self, rng: np.random.Generator) -> SparkCluster:
        """A what-if copy of the cluster as it is now, for a scheduler that looks ahead.

        The copy has its own engine and draws its task durations from ``rng``; driving it
        (:meth:`apply`, :meth:`advance`) leaves this model untouched. It holds only the jobs
        in the system now: later arrivals are left out, so a lookahead on it knows no more
        than the scheduler does. Its logs start empty.

        Raises:
            ConfigError: The cluster injects faults (their state is not copied).
        """
        if self.faults is not None:
            raise ConfigError("a spark cluster with faults cannot be forked", field="faults")
        if self._fork_parts is None:
            # Objects that keep their identity for the whole run, built into memo entries once:
            # the duration tables, and each job's own objects for when it is shared.
            tables = {id(st.table): st.table for st in self._stages}
            tables[id(self._intervals)] = self._intervals
            parts = []
            for job in self.jobs:
                part = {id(job): job, id(job.pool): job.pool}
                for st in job.stages:
                    part[id(st)] = st
                    part[id(st.pool)] = st.pool
                parts.append(part)
            self._fork_parts = (tables, parts)
        tables, parts = self._fork_parts
        engine = self.engine
        memo = dict(tables)
        # Replaced rather than copied: the copy's own stream, logs and sequence. The original's
        # sequence skips the number the copy starts from; only the order of numbers matters.
        memo[id(self._rng)] = rng
        memo[id(self._uniform)] = None
        memo[id(engine.seq)] = itertools.count(next(engine.seq))
        for log in (self._task_log, self._move_log, self._decision_rows):
            memo[id(log)] = []
        memo[id(self._log)] = None
        memo[id(self._fork_parts)] = None
        # The lists of every job and stage are rebuilt after the copy: walking them would cost
        # a lookup per stage of the run.
        jobs: list[_Job] = []
        stages: list[_Stage] = []
        memo[id(self.jobs)] = jobs
        memo[id(self._stages)] = stages
        # Shared, not copied, since the copy never changes them: jobs yet to arrive (left
        # out of it), and finished jobs no executor or pool still refers to.
        held = {j.id for j in self.ex_job if j is not None}
        held.update(p.job.id for p in self.ex_pool if p is not None and p.job is not None)
        held.update(st.job.id for st in self.ex_last if st is not None)
        active = {j.id for j in self.active_jobs}
        for job in self.jobs:
            if job.id in active:
                continue
            if job.completion is None or (job.id not in held and not job.local):
                memo.update(parts[job.id])
        twin = copy.deepcopy(self, memo)
        jobs.extend(memo[id(j)] if id(j) in memo else copy.deepcopy(j, memo) for j in self.jobs)
        stages.extend(st for j in jobs for st in j.stages)
        twin._uniform = _uniforms(rng)
        twin._log = twin._task_log.extend
        heap = twin.engine.heap
        heap[:] = [ev for ev in heap if getattr(ev[2], "__func__", None) is not SparkCluster._on_job_arrival]
        heapify(heap)
        return twin

    def advance(self) -> bool:
        """Run the engine to the next decision point, as :meth:`Engine.advance` does.

        Nearly every event of an episode is the end of a task whose executor takes the next
        task of its stage (the sticky branch of :meth:`_on_task_done`). That branch is repeated
        here inside the event loop, so the commonest event costs no Python call and reads its
        helpers from locals; keep the two in step. Every other event goes to its handler as in
        the engine. Same events, same order, same draws: the schedule is identical.

        Returns:
            True if stopped at a decision point, False once no event is left.
        """
        engine = self.engine
        done = self._done
        if self.faults is not None or done != self._on_task_done:
            return engine.advance()  # the faulty handlers do more per task; keep them whole
        heap = self._heap
        pop = heappop
        push = heappush
        seq = self._seq
        log = self._log
        draw = self._uniform
        intervals = self._intervals
        n = 0
        now = engine.now
        try:
            while heap:
                now, _, handler, e, stage = pop(heap)
                n += 1
                if handler is done and (r := stage.remaining) > 0:
                    # _on_task_done's sticky branch: no pool changes, so no round can open.
                    stage.done += 1
                    r -= 1
                    stage.remaining = r
                    job = stage.job
                    if r == 0:
                        job.saturated += 1
                    k = len(job.local)
                    key, hi = intervals[k]
                    if key != hi and 1 + int(draw() * (hi - key)) > k - key:
                        key = hi
                    same = stage.table[key][2]
                    d = same[int(draw() * len(same))]
                    stage.recent_ms = d
                    end = now + d
                    log((stage.gid, e, now, end))
                    push(heap, (end, next(seq), done, e, stage))
                    continue
                engine.now = now
                if handler(now, e, stage):
                    return True
            return False
        finally:
            engine.now = now
            engine.events += n

    def apply(self, actions: Sequence[Assign], delay: float | None = None) -> bool:
        """Validate the scheduler's actions, then apply them all, in order; or none.

        The actions are checked one after the other against the round as the earlier ones
        leave it: each ``Assign`` takes executors from those still free, and a stage whose
        parents all become fully assigned may be named by a later action. If any is invalid,
        the round is left exactly as it was before the call and the error is raised.

        An empty list passes: nothing is assigned and the round closes (the source pool's
        free executors go back where the end of every round sends them); the stages that could
        have been chosen keep waiting and are offered again at the next round.

        Args:
            actions: ``Assign(job, stage, limit)`` actions.
            delay: Decision time (ms), given when the scenario charges it (even 0). The
                executors are committed now, as without it, but each executor these actions
                commit starts towards its stage no earlier than ``delay`` from now: one
                already at the stage's job starts its task then, one that must move starts
                moving then. Until then it is held: in no pool, idle, and counted as on its
                way to the stage. The round's own bookkeeping (executors nobody took going
                back to the common pool) happens now.

        Returns:
            True if the round goes on (free executors and schedulable stages remain), False
            once it has closed and the simulation can resume.

        Raises:
            InvalidActionError: ``actions`` is not a list of actions, or an action is
                malformed or names a stage that cannot take executors at that point of the
                list. Nothing is applied then.
        """
        if not isinstance(actions, (list, tuple)) or isinstance(actions, Assign):
            if isinstance(actions, (Assign, str, bytes)) or not isinstance(actions, Iterable):
                raise InvalidActionError(f"spark expects a list of Assign(job, stage, limit) actions, got {actions!r}")
            actions = list(actions)
        if actions:
            now = self.engine.now
            sched = self._sched
            rows = len(self._decision_rows)
            undo: list[tuple[_Stage, int]] = []
            try:
                for a in actions:
                    stage, limit = self._validate(a)
                    n = min(limit, stage.remaining - stage.moving_to - stage.commit_to)
                    undo.append((stage, n))
                    self._commit(n, stage.pool)
                    self.selected.add(stage)
                    self._decision_rows.append((now, stage.job.id, stage.index, n))
                    self._refresh_schedulable(stage.job)
            except BaseException:
                self._rollback(undo, sched, rows)
                raise
            if delay is not None:
                # Booked only once every action is valid, so a rejected list leaves none.
                at = now + delay
                for stage, n in undo:
                    self._book(stage.pool, at, n)
            if self._committable() > 0 and self._sched:
                return True
        self._close_round()
        return False

    def progress(self) -> float:
        """Fraction of jobs finished."""
        return sum(j.completion is not None for j in self.jobs) / max(1, len(self.jobs))

    def finish(self, trace: Trace) -> None:
        """Fill the trace's tables."""
        n = self.num_executors
        trace.workers.update(id=list(range(n)), kind=["executor"] * n, capacity=[1] * n)
        trace.jobs.update(
            id=[j.id for j in self.jobs],
            name=[j.name for j in self.jobs],
            arrival=[j.arrival for j in self.jobs],
            completion=[j.completion for j in self.jobs],
        )
        stages = self._stages
        trace.stages.update(
            job=[st.job.id for st in stages],
            stage=[st.index for st in stages],
            num_tasks=[st.num_tasks for st in stages],
            parents=[[p.index for p in st.parents] for st in stages],
        )
        _fill_tasks(trace.tasks, self._task_log, self._stages)
        if self.faults is not None:
            # Tasks of a stage no longer launch in index order: a lost one runs again later.
            trace.tasks["task"] = list(self._row_task)
            trace.tasks["failed"] = [r in self._failed_rows for r in range(len(self._row_task))]
        _fill_flat(trace.moves, self._move_log)
        fill_table(trace.decisions, self._decision_rows)
        if self.faults is not None:
            self.faults.finish(trace)

    # -- event handlers ------------------------------------------------------------------

    def _on_job_arrival(self, now: float, job: _Job, _: object) -> bool:
        if self._arrival_seq is not None:
            self._schedule_arrival(job.id + 1)
        self._admit(job)
        return self._check()

    def _schedule_arrival(self, i: int) -> None:
        """Push the arrival of job ``i``, if there is one, with its sequence number (see :meth:`start`)."""
        if i < len(self.jobs):
            job = self.jobs[i]
            heappush(self._heap, (job.arrival, self._arrival_seq + i, self._on_job_arrival, job, None))

    def _admit(self, job: _Job) -> None:
        self.active_jobs.append(job)
        self._jobs_seen = None
        if self.common.members:
            self.source = self.common

    def _on_executor_ready(self, now: float, e: int, stage: _Stage) -> bool:
        job = stage.job
        job.local.add(e)
        self.ex_job[e] = job
        stage.moving_to -= 1
        self._move(e, job.pool)
        self._to_stage(e, stage)
        return self._check()

    def _on_task_done(self, now: float, e: int, stage: _Stage) -> bool:
        stage.done += 1
        r = stage.remaining
        if r > 0:
            # Sticky binding: the executor takes the next task of its stage. This branch runs
            # for nearly every task, so it is _launch specialised to a warm executor of the
            # same stage; no pool changes, so no round can open and the check is skipped.
            r -= 1
            stage.remaining = r
            job = stage.job
            if r == 0:
                job.saturated += 1
            n = len(job.local)
            key, hi = self._intervals[n]
            u = self._uniform
            if key != hi and 1 + int(u() * (hi - key)) > n - key:
                key = hi
            same = stage.table[key][2]
            d = same[int(u() * len(same))]
            stage.recent_ms = d
            end = now + d
            self._log((stage.gid, e, now, end))
            heappush(self._heap, (end, next(self._seq), self._done, e, stage))
            return False
        stage.running -= 1
        self.ex_busy[e] = False
        job = stage.job
        changed = self._complete_stage(stage) if stage.done == stage.num_tasks else False
        if not job.active:
            self._complete_job(job)
        pool = stage.pool
        if pool.out:
            self._fulfill(e, next(iter(pool.out)))
        else:
            self.ex_last[e] = None
            if changed:
                self._move_idle(pool, [e])
            else:
                self.source = pool
        if changed:
            self.source = job.pool
        return self._check()

    # -- the hot path --------------------------------------------------------------------

    def _launch(self, e: int, stage: _Stage) -> None:
        job = stage.job
        r = stage.remaining - 1
        stage.remaining = r
        stage.running += 1
        if r == 0:
            job.saturated += 1
        n = len(job.local)
        key, hi = self._intervals[n]
        u = self._uniform
        if key != hi and 1 + int(u() * (hi - key)) > n - key:
            key = hi
        idle, warm, same, other = stage.table[key]
        last = self.ex_last[e]
        if last is None:
            d = idle[int(u() * len(idle))]
            if warm:
                d += self.warmup
        elif last is stage:
            d = same[int(u() * len(same))]
        else:
            d = other[int(u() * len(other))]
        self.ex_last[e] = stage
        self.ex_busy[e] = True
        stage.recent_ms = d
        now = self.engine.now
        end = now + d
        self._log((stage.gid, e, now, end))
        heappush(self._heap, (end, next(self._seq), self._done, e, stage))

    # -- executor movements --------------------------------------------------------------

    def _to_stage(self, e: int, stage: _Stage) -> None:
        if stage.remaining == 0:
            self._backup(e)
            return
        job = stage.job
        if self.ex_job[e] is not job:
            self._send(e, stage)
            return
        # _move(e, ...), inlined: every executor a round hands out comes through here.
        old = self.ex_pool[e]
        if old is not None:
            old.members.discard(e)
        if stage not in job.frontier:
            # Parents still running: wait idle at the job.
            self.ex_last[e] = None
            job.pool.members.add(e)
            self.ex_pool[e] = job.pool
            return
        stage.pool.members.add(e)
        self.ex_pool[e] = stage.pool
        self._launch(e, stage)

    def _send(self, e: int, stage: _Stage) -> None:
        old = self.ex_pool[e]
        if old is not None:
            old.members.discard(e)
            self.ex_pool[e] = None
        job = stage.job
        stage.moving_to += 1
        job.supply += 1
        if old is not None and old.job is not None:
            old.job.supply -= 1
        if self.ex_job[e] is not None:
            self._detach(self.ex_job[e], e)
        now = self.engine.now
        self._move_log.extend((e, job.id, now, now + self.moving_delay))
        heappush(self._heap, (now + self.moving_delay, next(self._seq), self._ready, e, stage))

    def _backup(self, e: int) -> None:
        # The stage needs no more executors: find another in the executor's job, then in
        # any other job; else park it.
        job = self.ex_job[e]
        found = self._schedulable([job], job) if job is not None else []
        if not found:
            found = self._schedulable([j for j in self.active_jobs if j is not job], job)
        if found:
            self._to_stage(e, found[0])
        else:
            self._move_idle(self.ex_pool[e], [e])

    def _move(self, e: int, dst: _Pool) -> None:
        old = self.ex_pool[e]
        if old is not None:
            old.members.discard(e)
        dst.members.add(e)
        self.ex_pool[e] = dst

    def _detach(self, job: _Job, e: int) -> None:
        job.local.discard(e)
        self.ex_job[e] = None
        self.ex_last[e] = None

    def _move_idle(self, src: _Pool | None, ids: list[int] | None) -> None:
        """Idle executors leave a stage's pool for the job's, or a saturated job for the common pool."""
        if src is None or src is self.common:
            return
        job = src.job
        saturated = job.saturated == len(job.stages)
        if src.stage is None and not saturated:
            return
        if ids is None:
            ids = [x for x in src.members if not self.ex_busy[x]]
        dst = self.common if saturated else job.pool
        for x in ids:
            self._move(x, dst)
            if saturated:
                self._detach(job, x)

    # -- commitments and rounds ----------------------------------------------------------

    def _committable(self) -> int:
        s = self.source
        return len(s.members) - s.n_out if s is not None else 0

    def _commit(self, n: int, dst: _Pool) -> None:
        src = self.source
        src.out[dst] = src.out.get(dst, 0) + n
        src.n_out += n
        if dst.stage is not None:
            dst.stage.commit_to += n
        if dst.job is not None and dst.job is not src.job:
            dst.job.supply += n

    def _fulfill(self, e: int, dst: _Pool) -> None:
        src = self.ex_pool[e]
        _release(src, dst)
        if dst is self.common:
            self._move_idle(src, [e])
        else:
            self._to_stage(e, dst.stage)

    # -- decision time: commitments that take effect later -------------------------------

    def _book(self, dst: _Pool, at: float, n: int) -> None:
        """Record that ``n`` executors the source just committed to ``dst`` go there from ``at``."""
        src = self.source
        if src.due is None:
            src.due = {}
        q = src.due.get(dst)
        if q is None:
            q = src.due[dst] = deque()
        q.append([at, n])
        # Only a run that books takes the slower path; without decision time _fulfill stays as it was.
        self._fulfill = self._fulfill_booked

    def _fulfill_booked(self, e: int, dst: _Pool) -> None:
        """:meth:`_fulfill`, holding the executor while its commitment's decision has not taken effect."""
        src = self.ex_pool[e]
        due = src.due
        if due is not None and dst in due:
            at = self._unbook(src, dst)
            if at > self.engine.now:
                self._hold(e, src, dst, at)
                return
        SparkCluster._fulfill(self, e, dst)

    def _unbook(self, src: _Pool, dst: _Pool) -> float:
        """The effect time of the oldest commitment from ``src`` to ``dst``, taking one executor of it."""
        q = src.due[dst]
        first = q[0]
        if first[1] > 1:
            first[1] -= 1
        else:
            q.popleft()
            if not q:
                del src.due[dst]
        return first[0]

    def _hold(self, e: int, src: _Pool, dst: _Pool, at: float) -> None:
        """Fulfil one commitment from ``src`` to stage pool ``dst`` with ``e``, which waits until ``at``.

        The executor leaves its pool, so no round hands it out again, and goes from committed
        to on its way to the stage, as a moving executor: the stage's demand and its job's
        supply still count it.
        """
        left = src.out[dst] - 1
        if left:
            src.out[dst] = left
        else:
            del src.out[dst]
        src.n_out -= 1
        stage = dst.stage
        stage.commit_to -= 1
        stage.moving_to += 1
        src.members.discard(e)
        self.ex_pool[e] = None
        heappush(self._heap, (at, next(self._seq), self._release, e, (src, stage)))

    def _release(self, now: float, e: int, held: tuple[_Pool, _Stage]) -> bool:
        """A held executor's decision takes effect: it goes towards its stage from here."""
        src, stage = held
        # Where _fulfill would have left the counts at once; _to_stage moves it on from there.
        stage.moving_to -= 1
        if stage.job is not src.job:
            stage.job.supply -= 1
        src.members.add(e)
        self.ex_pool[e] = src
        self._to_stage(e, stage)
        return self._check()

    def _close_round(self) -> None:
        left = self._committable()
        if left > 0:
            self._commit(left, self.common)
        src = self.source
        if src is not None:
            # Each commitment, in order, takes the next idle executors, in the pool's order.
            busy = self.ex_busy
            idle = [x for x in src.members if not busy[x]]
            i = 0
            for dst, n in list(src.out.items()):
                k = min(n, len(idle) - i)
                if k > 0:
                    self._fulfill_all(src, idle[i : i + k], dst)
                    i += k
        self.source = None
        self.selected.clear()
        self._sched = []

    def _fulfill_all(self, src: _Pool, ids: list[int], dst: _Pool) -> None:
        """:meth:`_fulfill` each of ``ids`` (idle executors of ``src``, in order) for ``dst``.

        The same as ``for e in ids: self._fulfill(e, dst)``, with the commonest cases of a big
        cluster done for all the executors at once: a round from a pool of hundreds of idle
        executors hands out every one of them, and one by one that is most of the episode.
        Each case holds only where no executor's step reads what the others' steps change
        (the commitment counts, the stage's remaining tasks, the pools' members), so the state
        after them, down to the order of every set, is the one the loop would leave.
        """
        if dst is self.common:
            # The executors stay where they are or go where _move_idle sends idle executors of
            # src, all the same way: it reads none of the counts, and the stage's saturation
            # (which decides where) cannot change in between.
            _release(src, dst, len(ids))
            self._move_idle(src, ids)
            return
        stage = dst.stage
        job = stage.job
        ex_job = self.ex_job
        if (
            src is job.pool
            and stage.remaining > 0
            and (src.due is None or dst not in src.due)  # booked: each waits for its decision
            and all(ex_job[e] is job for e in ids)
        ):
            members = src.members
            if stage not in job.frontier:
                # _to_stage finds the parents still running: each executor waits at the job
                # again, out of its pool and back in (the set's order depends on that), idle.
                _release(src, dst, len(ids))
                ex_last = self.ex_last
                for e in ids:
                    members.discard(e)
                    members.add(e)
                    ex_last[e] = None
                return
            if stage.remaining >= len(ids):
                # Each starts a task of the stage, and none finds it without tasks to launch.
                _release(src, dst, len(ids))
                into = dst.members
                ex_pool = self.ex_pool
                launch = self._launch
                for e in ids:
                    members.discard(e)
                    into.add(e)
                    ex_pool[e] = dst
                    launch(e, stage)
                return
        fulfill = self._fulfill
        for e in ids:
            fulfill(e, dst)

    def _check(self) -> bool:
        """After an event: open a round if the source has free executors and a stage can use them."""
        src = self.source
        if src is None or len(src.members) - src.n_out <= 0:
            return False
        sched = self._schedulable(self.active_jobs, src.job)
        if sched:
            self._sched = sched
            return True
        self._move_idle(src, None)
        self.source = None
        return False

    def _schedulable(self, jobs: Sequence[_Job], source_job: _Job | None) -> list[_Stage]:
        """Stages that can take executors: demand left, parents fully assigned, job unsaturated."""
        cap = self.num_executors
        sel = self.selected
        out = []
        for j in jobs:
            if j is not source_job and j.supply >= cap:
                continue
            for st in j.active:
                if st in sel or st.remaining - st.moving_to - st.commit_to <= 0:
                    continue
                for p in st.parents:
                    if p.remaining - p.moving_to - p.commit_to > 0:
                        break
                else:
                    out.append(st)
        return out

    def _refresh_schedulable(self, job: _Job) -> None:
        old = self._sched
        i = next((k for k, st in enumerate(old) if st.job is job), len(old))
        k = i
        while k < len(old) and old[k].job is job:
            k += 1
        self._sched = old[:i] + self._schedulable([job], self.source.job) + old[k:]

    def _rollback(self, undo: list[tuple[_Stage, int]], sched: list[_Stage], rows: int) -> None:
        """Undo the commitments of a partly applied action list, latest first.

        Assigning only commits executors (no event, no draw), so undoing the commitments,
        the selections, the decision rows and the schedulable list restores the round exactly.
        """
        src = self.source
        out = src.out
        for stage, n in reversed(undo):
            dst = stage.pool
            left = out[dst] - n
            if left:
                out[dst] = left
            else:
                # The commitment was new (counts never stay at 0), so its key went to the end
                # of the dict: deleting it restores the order the round fulfils them in.
                del out[dst]
            src.n_out -= n
            stage.commit_to -= n
            if stage.job is not src.job:
                stage.job.supply -= n
            self.selected.discard(stage)
        self._sched = sched
        del self._decision_rows[rows:]

    def _validate(self, a: object) -> tuple[_Stage, int]:
        if not isinstance(a, Assign):
            raise InvalidActionError(f"spark expects Assign(job, stage, limit) actions, got {a!r}")
        job_id, index, limit = a
        if not isinstance(job_id, (int, np.integer)) or not 0 <= job_id < len(self.jobs):
            raise InvalidActionError(f"{a!r}: no job {job_id!r}")
        job = self.jobs[job_id]
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(job.stages):
            raise InvalidActionError(f"{a!r}: job {job_id} has no stage {index!r} (it has {len(job.stages)})")
        stage = job.stages[index]
        if stage not in self._sched:
            raise InvalidActionError(
                f"{a!r}: stage {index} of job {job_id} is not schedulable now; see view.schedulable"
            )
        free = self._committable()
        if not isinstance(limit, (int, np.integer)) or not 1 <= limit <= free:
            raise InvalidActionError(f"{a!r}: limit must be an integer in 1..{free} (the free executors)")
        return stage, int(limit)

    def _complete_stage(self, stage: _Stage) -> bool:
        job = stage.job
        job.active.remove(stage)
        job.frontier.discard(stage)
        new = [c for c in stage.children if c.done < c.num_tasks and all(p.done == p.num_tasks for p in c.parents)]
        job.frontier.update(new)
        return bool(new)

    def _complete_job(self, job: _Job) -> None:
        if job.pool.members:
            self._move_idle(job.pool, None)
        self.active_jobs.remove(job)
        self._jobs_seen = None
        job.completion = self.engine.now


def _uniforms(rng: np.random.Generator) -> Callable[[], float]:
    """Uniform draws in NumPy blocks through a C-level iterator: one call each, no Python frame."""
    blocks = map(lambda _: rng.random(_UNIFORM_BLOCK).tolist(), itertools.repeat(None))
    return itertools.chain.from_iterable(blocks).__next__


def _executor_intervals(cap: int) -> list[tuple[int, int]]:
    """Executor count -> the two profiled keys it lies between (equal when it hits one)."""
    levels = EXECUTOR_LEVELS
    out = []
    for n in range(cap + 1):
        if n <= levels[0]:
            out.append((levels[0], levels[0]))
        elif n >= levels[-1]:
            out.append((levels[-1], levels[-1]))
        elif n in levels:
            out.append((n, n))
        else:
            hi = next(x for x in levels if x > n)
            out.append((levels[levels.index(hi) - 1], hi))
    return out


def _fill_flat(table: dict[str, list], log: list) -> None:
    """Set a table's four columns, in order, from a flat log of quadruples."""
    for k, name in enumerate(table):
        table[name] = log[k::4]


def _fill_tasks(table: dict[str, list], log: list, stages: list[_Stage]) -> None:
    """Expand the flat task log; tasks of a stage launch in index order."""
    gid = np.array(log[0::4], dtype=np.int64)
    order = np.argsort(gid, kind="stable")
    first = np.searchsorted(gid[order], np.arange(len(stages)))
    task = np.empty_like(gid)
    task[order] = np.arange(len(gid)) - first[gid[order]]
    job_of = np.array([st.job.id for st in stages], dtype=np.int64)
    index_of = np.array([st.index for st in stages], dtype=np.int64)
    table.update(
        job=job_of[gid].tolist(),
        stage=index_of[gid].tolist(),
        task=task.tolist(),
        worker=log[1::4],
        start=log[2::4],
        end=log[3::4],
    )


class ExecutorView(NamedTuple):
    """One executor at the decision point.

    Attributes:
        id: Executor id, 0 .. num_executors - 1.
        job: Id of the job it is at, or None (in the common pool, or moving to a job).
        busy: True while it runs a task.
        queue_length: Tasks at it: 1 while busy, else 0 (an executor has no queue).
        alive: The executor is up (always, without faults); a dead one is at no job and idle.
    """

    id: int
    job: int | None
    busy: bool
    queue_length: int
    alive: bool = True


class _SparkDecision:
    """What :class:`SparkView` and :class:`SparkSnapshot` share, given ``schedulable`` and ``committable``."""

    __slots__ = ()

    @property
    def waiting(self) -> tuple:
        """What waits for a decision: the schedulable stages (same as ``schedulable``)."""
        return self.schedulable

    def valid_actions(self) -> list[Assign]:
        """Every action allowed, each on its own: each schedulable stage with each limit.

        Limits run 1 .. ``committable``. An action list may hold several of them, but each
        takes executors from those the earlier ones left free.
        """
        limits = range(1, self.committable + 1)
        return [Assign(st.job_id, st.index, k) for st in self.schedulable for k in limits]


class SparkView(_SparkDecision):
    """What a scheduler sees in a Spark round. Read-only; times in ms except :attr:`now`.

    The decision contract shared by every family: :attr:`now` in seconds, :attr:`waiting`
    (what to decide on: the schedulable stages), :attr:`workers` (the executors) and
    :meth:`valid_actions`. The view is live: its jobs and stages show the model as it is when
    read, so a view kept past the decision changes; :meth:`snapshot` makes a copy that does not.

    Attributes:
        now: Current time (s), as in every family.
        now_ms: Current time (ms), the unit of the other times here.
        num_executors: Executors in the cluster.
        committable: Free executors of the source pool still to hand out this round.
        source_job: The job whose executors are being handed out, or None (common pool or a
            finished job).
    """

    __slots__ = ("_m", "now", "now_ms", "num_executors", "committable", "source_job", "_workers")

    def __init__(self, model: SparkCluster) -> None:
        self._m = model
        now = self.now_ms = model.engine.now
        self.now = now / 1000.0
        self.num_executors = model.num_executors
        self.committable = model._committable()
        src = model.source
        job = src.job if src is not None else None
        self.source_job = _job_view(job) if job is not None and job.completion is None else None
        self._workers: tuple[ExecutorView, ...] | None = None

    @property
    def jobs(self) -> tuple[JobView, ...]:
        """Jobs in the system, in arrival order."""
        m = self._m
        jobs = m._jobs_seen
        if jobs is None:
            jobs = m._jobs_seen = tuple(_job_view(j) for j in m.active_jobs)
        return jobs

    @property
    def schedulable(self) -> tuple[StageView, ...]:
        """Stages that may be chosen now, grouped by job in arrival order, then by index."""
        m = self._m
        built_from, stages = m._sched_seen
        if built_from is not m._sched:
            stages = tuple(_stage_view(st) for st in m._sched)
            m._sched_seen = (m._sched, stages)
        return stages

    @property
    def workers(self) -> tuple[ExecutorView, ...]:
        """Every executor, by id. Built on first use: most schedulers never ask."""
        w = self._workers
        if w is None:
            m = self._m
            if m.faults is None:
                w = tuple(
                    ExecutorView(e, j.id if j is not None else None, busy, int(busy))
                    for e, (j, busy) in enumerate(zip(m.ex_job, m.ex_busy))
                )
            else:
                w = tuple(
                    ExecutorView(e, j.id if j is not None else None, busy, int(busy), up)
                    for e, (j, busy, up) in enumerate(zip(m.ex_job, m.ex_busy, m.faults.alive))
                )
            self._workers = w
        return w

    def job(self, job_id: int) -> JobView:
        """A job by id."""
        return _job_view(self._m.jobs[job_id])

    def fork(self, rng: np.random.Generator) -> SparkCluster:
        """A what-if copy of the cluster at this decision point (see :meth:`SparkCluster.fork`)."""
        return self._m.fork(rng)

    def snapshot(self) -> SparkSnapshot:
        """An immutable copy of this view: plain values that stay as they are now."""
        stages: dict[int, StageSnapshot] = {}
        jobs = []
        for j in self._m.active_jobs:
            ss = tuple(_stage_snapshot(st) for st in j.stages)
            for st, snap in zip(j.stages, ss):
                stages[st.gid] = snap
            view = _job_view(j)
            jobs.append(
                JobSnapshot(
                    j.id,
                    j.name,
                    j.arrival,
                    j.supply,
                    len(j.local),
                    ss,
                    tuple(stages[st.gid] for st in j.active),
                    view.remaining_work_ms,
                )
            )
        jobs_t = tuple(jobs)
        src = self.source_job
        return SparkSnapshot(
            self.now,
            self.now_ms,
            self.num_executors,
            self.committable,
            next(j for j in jobs_t if j.id == src.id) if src is not None else None,
            jobs_t,
            tuple(stages[st.gid] for st in self._m._sched),
            self.workers,
        )


def _job_view(job: _Job) -> JobView:
    v = job.view
    if v is None:
        v = job.view = JobView(job)
    return v


def _stage_view(st: _Stage) -> StageView:
    v = st.view
    if v is None:
        v = st.view = StageView(st)
    return v


class JobView:
    """Read-only view of a job."""

    __slots__ = ("_j",)

    def __init__(self, job: _Job) -> None:
        self._j = job

    id = property(lambda s: s._j.id, doc="Job id.")
    name = property(lambda s: s._j.name, doc="Template name, e.g. ``tpch-q9-50g``.")
    arrival = property(lambda s: s._j.arrival, doc="Arrival time (ms).")
    exec_supply = property(lambda s: s._j.supply, doc="Executors at, moving to or committed to the job.")
    num_local_executors = property(lambda s: len(s._j.local), doc="Executors at the job now.")

    @property
    def stages(self) -> tuple[StageView, ...]:
        """All stages, by index."""
        return tuple(_stage_view(st) for st in self._j.stages)

    @property
    def active_stages(self) -> tuple[StageView, ...]:
        """Stages not yet completed, by index."""
        return tuple(_stage_view(st) for st in self._j.active)

    @property
    def remaining_work_ms(self) -> float:
        """Estimated work left: unlaunched tasks times each stage's latest task duration (ms)."""
        return sum(st.remaining * st.recent_ms for st in self._j.active)

    def __repr__(self) -> str:
        return f"JobView(id={self.id}, name={self.name!r})"


class StageView:
    """Read-only view of a stage."""

    __slots__ = ("_s",)

    def __init__(self, stage: _Stage) -> None:
        self._s = stage

    job_id = property(lambda s: s._s.job.id, doc="Id of the stage's job.")
    index = property(lambda s: s._s.index, doc="Index within the job.")
    num_tasks = property(lambda s: s._s.num_tasks, doc="Tasks in the stage.")
    remaining_tasks = property(lambda s: s._s.remaining, doc="Tasks not yet launched.")
    running_tasks = property(lambda s: s._s.running, doc="Tasks running now.")
    completed_tasks = property(lambda s: s._s.done, doc="Tasks finished.")
    duration_estimate_ms = property(lambda s: s._s.recent_ms, doc="Latest task duration drawn (ms).")
    parents = property(lambda s: tuple(p.index for p in s._s.parents), doc="Indices of parent stages.")
    children = property(lambda s: tuple(c.index for c in s._s.children), doc="Indices of child stages.")

    @property
    def is_frontier(self) -> bool:
        """All parents completed (tasks may start as soon as executors arrive)."""
        return self._s in self._s.job.frontier

    @property
    def demand(self) -> int:
        """Executors the stage could still use: unlaunched tasks minus executors on their way."""
        s = self._s
        return s.remaining - s.moving_to - s.commit_to

    def __repr__(self) -> str:
        return f"StageView(job={self.job_id}, stage={self.index})"


class StageSnapshot(NamedTuple):
    """A stage as it was when the snapshot was taken; fields as in :class:`StageView`."""

    job_id: int
    index: int
    num_tasks: int
    remaining_tasks: int
    running_tasks: int
    completed_tasks: int
    duration_estimate_ms: float
    parents: tuple[int, ...]
    children: tuple[int, ...]
    is_frontier: bool
    demand: int


def _stage_snapshot(st: _Stage) -> StageSnapshot:
    return StageSnapshot(
        st.job.id,
        st.index,
        st.num_tasks,
        st.remaining,
        st.running,
        st.done,
        st.recent_ms,
        tuple(p.index for p in st.parents),
        tuple(c.index for c in st.children),
        st in st.job.frontier,
        st.remaining - st.moving_to - st.commit_to,
    )


class JobSnapshot(NamedTuple):
    """A job as it was when the snapshot was taken; fields as in :class:`JobView`.

    ``active_stages`` holds the same :class:`StageSnapshot` objects as ``stages``.
    """

    id: int
    name: str
    arrival: float
    exec_supply: int
    num_local_executors: int
    stages: tuple[StageSnapshot, ...]
    active_stages: tuple[StageSnapshot, ...]
    remaining_work_ms: float


class _SparkSnapshotFields(NamedTuple):
    now: float
    now_ms: float
    num_executors: int
    committable: int
    source_job: JobSnapshot | None
    jobs: tuple[JobSnapshot, ...]
    schedulable: tuple[StageSnapshot, ...]
    workers: tuple[ExecutorView, ...]


class SparkSnapshot(_SparkSnapshotFields, _SparkDecision):
    """An immutable copy of a :class:`SparkView`: nothing in it changes as the simulation goes on.

    Offers what the view offers (schedulers written against the view run on it), with the
    jobs in the system only: :meth:`job` knows no finished or future job. The stages in
    ``schedulable`` are the same objects as in the jobs' ``stages``.

    Attributes:
        now: Time of the decision (s).
        now_ms: Time of the decision (ms).
        num_executors: Executors in the cluster.
        committable: Free executors of the source pool still to hand out in the round.
        source_job: The job whose executors were being handed out, or None.
        jobs: Jobs in the system, in arrival order.
        schedulable: Stages that could be chosen, grouped by job in arrival order, then by index.
        workers: Every executor, by id.
    """

    __slots__ = ()

    def job(self, job_id: int) -> JobSnapshot:
        """A job in the system by id.

        Raises:
            KeyError: No job with that id was in the system.
        """
        for j in self.jobs:
            if j.id == job_id:
                return j
        raise KeyError(f"job {job_id!r} was not in the system at {self.now_ms} ms (snapshot.jobs)")


def _release(src: _Pool, dst: _Pool, n: int = 1) -> None:
    """Take back ``n`` executors ``src`` committed to ``dst``: kept (they arrived) or dropped (they cannot)."""
    left = src.out[dst] - n
    if left:
        src.out[dst] = left
    else:
        del src.out[dst]
    src.n_out -= n
    if dst.stage is not None:
        dst.stage.commit_to -= n
    if dst.job is not None and dst.job is not src.job:
        dst.job.supply -= n
