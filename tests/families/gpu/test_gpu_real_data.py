"""GSwarm's own configs and request streams (skipped when ../shared/datasets/gpu-workflows is absent).

The golden numbers come from GSwarm's baseline.py run in estimation mode on the same inputs,
with its two scheduling bugs fixed (equal-time events in insertion order; a gang's switch cost
taken over all its GPUs): ray-like reproduces its executions exactly.
"""

import json

import pytest

from schedlab.errors import DataError
from schedlab.metrics.checker import check_trace
from schedlab.runs import simulate
from schedlab.scenarios import load_scenario


def scenario(config, requests, gpus, mode, jobs):
    return load_scenario("gpu", {
        "cluster.gpus": gpus, "workload.mode": mode, "workload.jobs": jobs,
        "workload.config": str(config), "workload.requests": str(requests),
    })  # fmt: skip


def repaired_complex(gswarm_dir, tmp_path):
    # The complex config has an edge from "performance_report", the output of node
    # "performance_analysis"; schedlab rejects it, so the repaired copy names the node.
    doc = json.loads((gswarm_dir / "complex_config.json").read_text())
    for e in doc["workflows"]["advanced_code_analysis"]["edges"]:
        if e["from"] == "performance_report":
            e["from"] = "performance_analysis"
    p = tmp_path / "complex_config_repaired.json"
    p.write_text(json.dumps(doc))
    return str(p)


@pytest.mark.parametrize(
    "mode, golden",
    [
        ("offline", (2906.1929951320863, 1392.3702321107298, 191.17349806108518, 2903.6205951320862,
                     172.0737708627484, 9, 46.25)),
        ("online", (2942.8911190178746, 1335.7550585608785, 141.18645261748702, 2864.6692264278745,
                    45.77377086274839, 41, 154.25)),
    ],
)  # fmt: skip
def test_ray_like_matches_the_reference_on_simple(gswarm_dir, mode, golden):
    res = simulate(
        scenario(gswarm_dir / "simple_config.json", gswarm_dir / "simple_requests.yaml", 4, mode, 60), "ray-like", 0
    )
    m = res.metrics
    got = (m["makespan_s"], m["avg_jct_s"], m["median_jct_s"], m["p99_jct_s"], m["min_jct_s"])
    assert got == pytest.approx(golden[:5], rel=1e-12)
    assert (m["model_switches"], m["switch_time_s"], m["completed_jobs"]) == (golden[5], golden[6], 60)
    assert check_trace(res.trace).ok


@pytest.mark.parametrize(
    "mode, golden",
    [
        ("offline", (4124.663095238096, 1929.8955767685088, 104, 536.0625)),
        ("online", (4164.652912476191, 1823.4124488218379, 131, 630.8125)),
    ],
)
def test_ray_like_matches_the_reference_on_repaired_complex(gswarm_dir, tmp_path, mode, golden):
    cfg = repaired_complex(gswarm_dir, tmp_path)
    res = simulate(scenario(cfg, gswarm_dir / "complex_requests.yaml", 8, mode, 40), "ray-like", 0)
    m = res.metrics
    assert (m["makespan_s"], m["avg_jct_s"]) == pytest.approx(golden[:2], rel=1e-12)
    assert (m["model_switches"], m["switch_time_s"]) == golden[2:]
    assert check_trace(res.trace).ok


@pytest.mark.parametrize("gpus", [4, 8])
@pytest.mark.parametrize("mode", ["offline", "online"])
def test_every_scheduler_passes_the_checker_on_simple(gswarm_dir, gpus, mode):
    sc = scenario(gswarm_dir / "simple_config.json", gswarm_dir / "simple_requests.yaml", gpus, mode, 40)
    for name in ("ray-like", "eft", "eft-fifo"):
        res = simulate(sc, name, 0)
        assert check_trace(res.trace).ok, name
        assert res.metrics["completed_jobs"] == 40 and res.metrics["model_llm30b_executions"] > 0


def test_complex_config_is_rejected_as_given(gswarm_dir):
    with pytest.raises(DataError) as e:
        simulate(
            scenario(gswarm_dir / "complex_config.json", gswarm_dir / "complex_requests.yaml", 8, "offline", 5),
            "ray-like",
        )
    msg = str(e.value)
    assert msg.startswith(f"{gswarm_dir / 'complex_config.json'}: workflows.advanced_code_analysis.edges[5].from: ")
    assert "'performance_report' (that is an output of node 'performance_analysis'" in msg


def test_complex_needs_eight_gpus(gswarm_dir, tmp_path):
    cfg = repaired_complex(gswarm_dir, tmp_path)
    with pytest.raises(DataError, match="models.llama2_70b_base.gpus_required: model 'llama2_70b_base' needs 8"):
        simulate(scenario(cfg, gswarm_dir / "complex_requests.yaml", 4, "offline", 5), "eft")
    res = simulate(scenario(cfg, gswarm_dir / "complex_requests.yaml", 8, "online", 30), "eft", 0)
    assert check_trace(res.trace).ok and res.metrics["completed_jobs"] == 30


def test_eft_batch_keeps_eft_s_mean_at_a_shorter_makespan_on_simple(gswarm_dir):
    # All 500 requests, 4 GPUs, online: eft switches freely and pays in makespan; eft-batch
    # lets a model in only once its waiting pays for the switch (docs/gpu.md).
    sc = scenario(gswarm_dir / "simple_config.json", gswarm_dir / "simple_requests.yaml", 4, "online", None)
    m = {s: simulate(sc, s, 0).metrics for s in ("ray-like", "eft", "eft-batch")}
    assert m["eft-batch"]["makespan_s"] < m["eft"]["makespan_s"]
    assert m["eft-batch"]["model_switches"] < m["eft"]["model_switches"]
    assert m["eft-batch"]["avg_jct_s"] < 0.6 * m["ray-like"]["avg_jct_s"]


def test_eft_batch_wins_on_both_axes_on_simple_8_gpus_online(gswarm_dir):
    # The headroom target on the setting that needs the idle-GPU rule (docs/gpu.md): without it
    # the llm30b batches fill while GPUs idle, and the makespan ends above ray-like's.
    sc = scenario(gswarm_dir / "simple_config.json", gswarm_dir / "simple_requests.yaml", 8, "online", None)
    m = {s: simulate(sc, s, 0).metrics for s in ("ray-like", "eft-batch")}
    assert m["eft-batch"]["makespan_s"] <= m["ray-like"]["makespan_s"]
    assert m["eft-batch"]["avg_jct_s"] <= 0.7 * m["ray-like"]["avg_jct_s"]


def test_eft_window_wins_on_both_axes_on_repaired_complex_offline(gswarm_dir, tmp_path):
    # The 70B model needs all 8 GPUs: eft-batch's batches let the small models run work of
    # later requests ahead of each 70B batch and miss the mean (-27 %); the window stops that
    # (docs/gpu.md). The online setting still misses, at -29.97 %.
    cfg = repaired_complex(gswarm_dir, tmp_path)
    sc = scenario(cfg, gswarm_dir / "complex_requests.yaml", 8, "offline", None)
    m = {s: simulate(sc, s, 0).metrics for s in ("ray-like", "eft-batch", "eft-window")}
    assert m["eft-window"]["makespan_s"] <= m["ray-like"]["makespan_s"]
    assert m["eft-window"]["avg_jct_s"] <= 0.7 * m["ray-like"]["avg_jct_s"] < m["eft-batch"]["avg_jct_s"]
