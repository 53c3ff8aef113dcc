"""The conformance suite (schedlab.testing) over every registered scheduler on every preset of its family,
and proof that it catches schedulers that break the rules."""

import random

import numpy as np
import pytest

from schedlab import testing
from schedlab.schedulers import Scheduler, make, specs
from schedlab.testing import SchedulerCheckError, iter_checks, parametrize_with_checks


@parametrize_with_checks()
def test_registered_scheduler_conforms(scheduler, preset, check):
    check(scheduler, preset)


def test_suite_covers_every_registered_scheduler_on_every_preset(record_property):
    cases = list(iter_checks())
    pairs = {(c.scheduler, c.family, c.preset) for c in cases}
    registered = specs()
    assert len(pairs) >= len(registered)
    assert {(s.name, s.family) for s in registered} <= {(name, family) for name, family, _ in pairs}
    for name, family, preset in pairs:
        checks = {c.check for c in cases if (c.scheduler, c.family, c.preset) == (name, family, preset)}
        assert {testing.check_trace_ok, testing.check_deterministic, testing.check_reusable} <= checks
    record_property("scheduler_preset_pairs", len(pairs))
    record_property("cases", len(cases))
    print(f"conformance suite: {len(registered)} schedulers, {len(pairs)} scheduler x preset pairs, {len(cases)} cases")


def test_small_scenario_shrinks_every_preset():
    from schedlab import plugins

    for spec in plugins.specs():
        for preset in spec.preset_names():
            small = testing.small_scenario(preset).model_dump()
            assert small["name"] == preset and small["family"] == spec.name

    assert testing.small_scenario("spark-synthetic").workload.jobs == testing.SMALL_JOBS
    assert testing.small_scenario("edge").workload.jobs == testing.SMALL_JOBS
    assert testing.small_scenario("edge").cluster.nodes == 10  # workers are left alone
    assert "40" in str(testing.small_scenario("multiproc").model_dump()) and "1000" not in str(
        testing.small_scenario("multiproc").model_dump()
    )
    assert testing.small_scenario("gpu").workload.jobs == testing.SMALL_JOBS  # unset: the default was 40
    assert testing.small_scenario("spark-synthetic", {"workload.jobs": 3}).workload.jobs == 3


# -- a user's own scheduler, as the docs show --------------------------------------------------
# The schedulers below wrap a registered multiproc scheduler, so that they depend on nothing
# but the action types and the registry (the views may change).


class Wrapper(Scheduler):
    """A user's scheduler: delegates to the registered multiproc ``random``, resetting it properly."""

    families = ("multiproc",)

    def __init__(self):
        self.inner = make("random", "multiproc")

    def reset(self, rng):
        self.inner.reset(rng)

    def decide(self, view):
        return self.inner.decide(view)


@parametrize_with_checks([Wrapper])
def test_a_user_scheduler_through_the_same_suite(scheduler, preset, check):
    assert preset.startswith("multiproc")  # the family's presets only
    check(scheduler, preset)


# -- the suite catches bad schedulers ------------------------------------------------------------


class ForgetsToReset(Wrapper):
    """Keeps state across episodes: resets its random stream in the first episode only."""

    def __init__(self):
        super().__init__()
        self.episodes = 0

    def reset(self, rng):
        self.episodes += 1
        if self.episodes == 1:
            self.inner.reset(rng)


class UnseededRandom(Wrapper):
    """Ignores the rng reset() gets and draws from fresh OS entropy."""

    def reset(self, rng):
        self.inner.reset(np.random.default_rng())


class GlobalRandom(Wrapper):
    """Draws from Python's global random module: sends every task to a random CPU of 0..3."""

    def decide(self, view):
        return [a._replace(worker=random.randrange(4)) for a in self.inner.decide(view)]


class NoSuchCpu(Wrapper):
    """Emits an impossible action: a CPU that does not exist."""

    def decide(self, view):
        return [a._replace(worker=999) for a in self.inner.decide(view)]


class DoesNothing:
    """Strands every job: never hands out an executor."""

    families = ("spark",)

    def reset(self, rng):
        pass

    def decide(self, view):
        return []


def test_catches_state_kept_across_episodes():
    testing.check_deterministic(ForgetsToReset, "multiproc")  # fresh objects agree ...
    testing.check_trace_ok(ForgetsToReset, "multiproc")
    with pytest.raises(SchedulerCheckError, match=r"check_reusable: episode 2 .*reset\(\) must clear"):
        testing.check_reusable(ForgetsToReset, "multiproc")  # ... a reused one does not
    with pytest.raises(SchedulerCheckError, match="check_reusable"):
        testing.check_scheduler(ForgetsToReset, "multiproc")


@pytest.mark.parametrize("bad", [UnseededRandom, GlobalRandom])
def test_catches_unseeded_randomness(bad):
    with pytest.raises(SchedulerCheckError, match="check_deterministic: seed 0: two runs gave different traces"):
        testing.check_deterministic(bad, "multiproc")
    with pytest.raises(SchedulerCheckError, match="different traces"):
        testing.check_scheduler(bad, "multiproc")


def test_catches_stranded_jobs():
    with pytest.raises(SchedulerCheckError, match=r"check_trace_ok: seed 0: \d+ job\(s\) never finished"):
        testing.check_trace_ok(DoesNothing, "spark-synthetic")
    with pytest.raises(SchedulerCheckError, match="never finished"):
        testing.check_scheduler(DoesNothing)


def test_catches_an_impossible_action():
    with pytest.raises(SchedulerCheckError, match=r"check_trace_ok: seed 0: the run failed: InvalidActionError.*999"):
        testing.check_trace_ok(NoSuchCpu, "multiproc")


def test_catches_a_scheduler_that_declares_no_family():
    class Undeclared(Wrapper):
        families = ()

    with pytest.raises(SchedulerCheckError, match="declares no families"):
        testing.check_trace_ok(Undeclared, "multiproc")


def test_family_check_names_the_other_family():
    testing.check_refuses_other_families(Wrapper)  # passes: a clear ConfigError on spark, gpu, ...

    class Everywhere(Wrapper):
        families = ("multiproc", "spark")  # claims spark, but cannot run it: not this check's business

    testing.check_refuses_other_families(Everywhere)
