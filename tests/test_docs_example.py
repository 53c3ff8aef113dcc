"""The user-written scheduler in docs/examples runs end to end, from the API and the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schedlab.schedulers import make
from schedlab.testing import SchedulerCheckError, check_scheduler, parametrize_with_checks

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "largest_demand.py"


def test_example_passes_the_conformance_suite():
    sched = make(f"{EXAMPLE}:LargestDemandFirst", "spark")
    check_scheduler(lambda: make(f"{EXAMPLE}:LargestDemandFirst", "spark"))
    assert sched.get_params() == {"share": 0.5}


def largest_demand_first():
    return make(f"{EXAMPLE}:LargestDemandFirst", "spark")


largest_demand_first.families = ("spark",)


@parametrize_with_checks([largest_demand_first], presets=["spark-synthetic"])
def test_example_passes_each_named_check(scheduler, preset, check):
    check(scheduler, preset)


def test_example_runs_from_the_command_line(tmp_path):
    metrics = tmp_path / "m.json"
    cmd = [sys.executable, "-m", "schedlab.cli", "run", "spark-synthetic", "--jobs", "10", "--seed", "2",
           "--scheduler", f"{EXAMPLE}:LargestDemandFirst", "--metrics-json", str(metrics), "-q"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(metrics.read_text())
    assert m["completed_jobs"] == 10 and m["avg_jct_s"] > 0


def test_conformance_suite_catches_unseeded_randomness():
    import random

    from schedlab.families.spark.schedulers import RoundRobin

    class Jittery(RoundRobin):
        def decide(self, view):
            acts = super().decide(view)
            if acts and random.random() < 0.5:
                a = acts[0]
                return [a._replace(limit=max(1, a.limit - 1))]
            return acts

    with pytest.raises(SchedulerCheckError, match="different traces"):
        check_scheduler(Jittery)
