"""Schedules are identical, bit for bit, to those recorded before the families were restructured.

``tests/data/trace_digests.json`` maps ``preset/scheduler/seed`` (and
``gswarm-simple-online|offline/scheduler/seed``: the GSwarm simple workload, 8 GPUs, its first
100 requests) to the SHA-256 of the trace's JSON without timing and without its scenario echo
(the "body"): scenario fields may be renamed, with deprecation, but the schedule may not change.
"""

import hashlib
import json
from pathlib import Path

import pytest

from conftest import GSWARM_DIR, TPCH_DIR
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario

WANT = json.loads((Path(__file__).parent / "data" / "trace_digests.json").read_text())


def body_digest(trace) -> str:
    d = trace.to_dict(timing=False)
    d.pop("scenario")
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def scenario_of(preset: str):
    if preset.startswith("gswarm-simple-"):
        if not (GSWARM_DIR / "simple_config.json").is_file():
            pytest.skip(f"GSwarm workflows not found at {GSWARM_DIR}")
        mode = preset.rsplit("-", 1)[1]
        return load_scenario(
            "gpu",
            {
                "cluster.gpus": 8,
                "workload.mode": mode,
                "workload.config": str(GSWARM_DIR / "simple_config.json"),
                "workload.requests": str(GSWARM_DIR / "simple_requests.yaml"),
                "workload.jobs": 100,
            },
        )
    if preset == "spark-tpch":
        if not (TPCH_DIR / "2g.json").is_file():
            pytest.skip(f"TPC-H profiles not found at {TPCH_DIR}")
        return load_scenario(preset, {"workload.tpch_dir": str(TPCH_DIR)})
    return load_scenario(preset)


def test_every_family_and_scheduler_is_recorded():
    recorded = {tuple(k.split("/")[:2]) for k in WANT}
    assert len(WANT) >= 100 and all(len(k.split("/")) == 3 for k in WANT)
    assert len({p for p, _ in recorded}) >= 7  # six presets and the two GSwarm modes, less none


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(WANT))
def test_schedule_is_unchanged(key):
    preset, scheduler, seed = key.split("/")
    trace = simulate(scenario_of(preset), scheduler, int(seed)).trace
    assert body_digest(trace) == WANT[key]["body"], f"{key}: the schedule changed"
