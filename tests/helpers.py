"""Small builders shared by the tests: stages with exact durations, hand-made traces."""

from __future__ import annotations

from schedlab.families.spark.dag import JobTemplate, StageTemplate, resolve_profile
from schedlab.sim.trace import Trace


def stage(index, parents=(), num_tasks=1, first=(50,), rest=(30,), fresh=(70,)):
    """A stage whose durations are known exactly (one value per wave, same for every executor count)."""
    table, rough = resolve_profile({100: list(first)}, {100: list(rest)}, {100: list(fresh)})
    return StageTemplate(index, tuple(parents), num_tasks, rough, table)


def job(*stages, name="j"):
    """A job template of the given stages."""
    return JobTemplate(name, tuple(stages))


def two_job_trace(scale: float = 1.0, unit: str = "ms") -> Trace:
    """Two jobs, three stages, two executors; times in ms (times ``scale``).

    worker 0: job 0 stage 0 task 0 [0, 2000), job 0 stage 1 task 0 [2000, 4000)
    worker 1: job 0 stage 0 task 1 [0, 1000), moves to job 1 [1000, 1500),
              job 1 stage 0 task 0 [1500, 3500), job 1 stage 0 task 1 [3500, 4500)
    """
    tr = Trace(family="spark", time_unit=unit)
    tr.workers.update(id=[0, 1], kind=["executor"] * 2, capacity=[1, 1])
    tr.jobs.update(
        id=[0, 1], name=["q1", "q2"], arrival=[0.0, 1000.0 * scale], completion=[4000.0 * scale, 4500.0 * scale]
    )
    tr.stages.update(job=[0, 0, 1], stage=[0, 1, 0], num_tasks=[2, 1, 2], parents=[[], [0], []])
    tr.tasks.update(
        job=[0, 0, 1, 0, 1],
        stage=[0, 0, 0, 1, 0],
        task=[0, 1, 0, 0, 1],
        worker=[0, 1, 1, 0, 1],
        start=[x * scale for x in (0.0, 0.0, 1500.0, 2000.0, 3500.0)],
        end=[x * scale for x in (2000.0, 1000.0, 3500.0, 4000.0, 4500.0)],
    )
    tr.moves.update(worker=[1], job=[1], start=[1000.0 * scale], end=[1500.0 * scale])
    tr.decisions.update(time=[0.0, 1000.0 * scale, 2000.0 * scale], job=[0, 1, 0], stage=[0, 0, 1], limit=[2, 1, 1])
    tr.counters = {"events": 12, "decisions": 3}
    tr.timing = {"wall_s": 0.5, "decide_s": [0.001, 0.002, 0.003]}
    return tr


def drive(eng, model, scheduler, *, pending=None, **trace_fields):
    """Run a model built by hand with a scheduler (name or object) and return its trace.

    ``pending``: None starts the model; True or False carries on a model already under way,
    with a decision point open or not.
    """
    import numpy as np

    from schedlab.schedulers import make

    sched = make(scheduler, model.family) if isinstance(scheduler, str) else scheduler
    sched.reset(np.random.default_rng(1))
    if pending is None:
        pending = model.start()
    while True:
        if not pending and not eng.advance():
            break
        pending = model.apply(sched.decide(model.view()))
    trace = Trace(family=model.family, time_unit=model.time_unit, **trace_fields)
    model.finish(trace)
    return trace


def columns(table, cols):
    """The rows of a trace table as tuples of the named columns."""
    return list(zip(*(table[c] for c in cols), strict=True))


def assert_seed_determinism(scenario, scheduler):
    """Same seed, same trace (bit for bit); another seed, another trace. Returns the first trace."""
    from schedlab.runs import simulate

    a = simulate(scenario, scheduler, seed=7).trace
    b = simulate(scenario, scheduler, seed=7).trace
    c = simulate(scenario, scheduler, seed=8).trace
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()
    return a


class Returns:
    """A scheduler that returns the same actions at every decision point."""

    def __init__(self, actions):
        self.actions = actions

    def reset(self, rng):
        pass

    def decide(self, view):
        return self.actions


def run_episode(env, policy, seed=None, options=None):
    """Run one episode of a Gymnasium env with ``policy(env) -> action``; never truncated.

    Returns the observations (the reset's first), the rewards and the steps' infos.
    """
    obs, _ = env.reset(seed=seed, options=options)
    observations, rewards, infos = [obs], [], []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy(env))
        assert not truncated
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated:
            return observations, rewards, infos
