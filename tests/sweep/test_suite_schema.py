"""Suite files: every mistake is one line naming the file and the field, exit 2, before anything runs."""

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.errors import ConfigError
from schedlab.runs.sweep import load_suite, plan_suite

runner = CliRunner()


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"schedulrs": ["fair"]}, "schedulrs", "unknown key"),
        ({"seeds": "1-x"}, "seeds", "expected seeds like 1-10"),
        ({"seeds": "5-1"}, "seeds", "empty seed range '5-1'"),
        ({"seeds": [1, -2]}, "seeds", "seeds must be >= 0"),
        ({"seeds": [3, 1, 3]}, "seeds", "seed 3 is listed twice"),
        ({"seeds": None}, "seeds", "missing"),
        ({"schedulers": ["fair", "fiar"]}, "schedulers.1", "Did you mean 'fair'?"),
        ({"scenarios": ["spark-synthetc"]}, "scenarios.0", "Did you mean 'spark-synthetic'?"),
        (
            {"params": {"cluster.gpus": [2, 4]}},
            "params.cluster.gpus",
            "scenario 'tiny-spark' has no setting cluster.gpus",
        ),
        ({"params": {"workload.jobz": [2]}}, "params.workload.jobz", "has no setting workload.jobz"),
        (
            {"params": {"workload.jobs": [4, 0]}},
            "params",
            "workload.jobs=0]: workload.jobs: Input should be greater than or equal to 1",
        ),
        ({"params": {"workload.jobs": [4, 4]}}, "params", "params.workload.jobs lists 4 twice"),
        ({"scheduler_params": {"fair": {"speed": [1, 2]}}}, "scheduler_params.fair", "it takes: dynamic_partition"),
        ({"scheduler_params": {"cpf": {}}}, "scheduler_params.cpf", "not one of this suite's schedulers"),
        ({"schedulers": {"sprak": ["fair"]}}, "schedulers.sprak", "Did you mean 'spark'?"),
        ({"schedulers": {"gpu": ["eft"]}}, "schedulers.gpu", "no scenario of this suite is of family 'gpu'"),
        ({"scenarios": ["tiny.yaml", "multiproc"]}, "schedulers.0", "unknown multiproc scheduler 'fair'"),
        ({"scenarios": ["tiny.yaml", "tiny.yaml"]}, "scenarios", "the grid runs the same thing twice"),
        ({"scenarios": ["tiny.yaml", "twin.yaml"]}, "scenarios.1", "are both named 'tiny-spark'"),
        ({"schedulers": ["fair", "round-robin"]}, "schedulers.1", "'round-robin' is 'fair', listed twice"),
        ({"name": "../up"}, "name", "String should match pattern"),
        ({"scenarios": ["tiny.yaml", "nowhere/s.yaml"]}, "scenarios.1", "no such scenario file nowhere/s.yaml"),
    ],
)
def test_bad_suite_is_one_line_exit_2(write_suite, tmp_path, changes, field, message):
    path = write_suite(**changes)
    (tmp_path / "twin.yaml").write_text((tmp_path / "tiny.yaml").read_text().replace("jobs: 4", "jobs: 5"))
    out = tmp_path / "out"
    r = runner.invoke(app, ["sweep", str(path), "--out", str(out)])
    assert r.exit_code == 2, r.output
    line = r.output.strip()
    assert "\n" not in line and line.startswith(f"schedlab: error: {path}: {field}: "), line
    assert message in line
    assert not out.exists()  # nothing written for a suite that cannot run


def test_missing_and_malformed_files(tmp_path):
    r = runner.invoke(app, ["sweep", str(tmp_path / "nope.yaml")])
    assert r.exit_code == 2 and r.output.strip() == f"schedlab: error: {tmp_path / 'nope.yaml'}: no such suite file"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseeds: [1, 2\n")
    r = runner.invoke(app, ["sweep", str(bad)])
    assert r.exit_code == 2 and "malformed YAML" in r.output and len(r.output.strip().splitlines()) == 1


def test_ray_missing_is_one_line_with_the_install_hint(write_suite, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # makes `import ray` fail
    out = tmp_path / "out"
    r = runner.invoke(app, ["sweep", str(write_suite()), "--ray", "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert r.output.strip() == "schedlab: error: --ray: Ray is not installed; pip install 'schedlab[ray]'"
    assert not out.exists()


# -- the grid ---------------------------------------------------------------------------------


def test_grid_order_and_count(write_suite):
    path = write_suite(scheduler_params={"fifo": {"dynamic_partition": [False, True]}})
    runs = plan_suite(load_suite(path), source=str(path), base_dir=path.parent)
    # 2 job counts x (fair, fifo x 2 settings, srwf) x 10 seeds
    assert len(runs) == 2 * 4 * 10 and len({r.run_id for r in runs}) == 80
    head = [(r.params["workload.jobs"], r.scheduler, r.scheduler_params, r.seed) for r in runs[:12]]
    assert head[:2] == [(4, "fair", {}, 1), (4, "fair", {}, 2)]
    assert head[10:12] == [(4, "fifo", {"dynamic_partition": False}, 1), (4, "fifo", {"dynamic_partition": False}, 2)]
    assert runs[-1].params == {"workload.jobs": 8} and runs[-1].scheduler == "srwf" and runs[-1].seed == 10
    assert runs[0].scenario_data["workload"]["jobs"] == 4 and runs[-1].scenario_data["workload"]["jobs"] == 8
    assert runs[0].columns() == {"run_id": runs[0].run_id, "scenario": "tiny-spark", "family": "spark",
                                 "scheduler": "fair", "seed": 1, "workload.jobs": 4}  # fmt: skip
    assert runs[10].columns()["scheduler.dynamic_partition"] is False


def test_run_ids_are_stable_and_name_what_runs(write_suite):
    def ids(**changes):
        path = write_suite(**changes)
        return {
            (r.scheduler, r.seed, r.params.get("workload.jobs")): r.run_id
            for r in plan_suite(load_suite(path), base_dir=path.parent)
        }

    base = ids()
    assert ids() == base  # planning twice gives the same ids
    # the same run under another suite name, description, alias or seed list keeps its id
    same = ids(name="other", description="words", schedulers=["round-robin", "fifo"], seeds=[2, 1])
    assert same[("fair", 1, 4)] == base[("fair", 1, 4)] and same[("fifo", 2, 8)] == base[("fifo", 2, 8)]
    # the value a parameter is given in the suite matters, not how: jobs=4 written as a param or in the scenario
    plain = ids(params=None)
    assert plain[("fair", 1, None)] == base[("fair", 1, 4)]
    # anything that changes the run changes the id
    other = ids(params={"workload.jobs": [5, 8]})
    assert other[("fair", 1, 5)] not in base.values() and other[("fair", 1, 8)] == base[("fair", 1, 8)]
    assert ids(scheduler_params={"fair": {"dynamic_partition": False}})[("fair", 1, 4)] != base[("fair", 1, 4)]


def test_schedulers_per_family_and_defaults(write_suite):
    path = write_suite(scenarios=["tiny.yaml", "multiproc"], schedulers={"spark": ["cpf"]}, params=None, seeds=1)
    runs = plan_suite(load_suite(path), base_dir=path.parent)
    from schedlab.schedulers import names

    assert [(r.family, r.scheduler) for r in runs] == [("spark", "cpf")] + [
        ("multiproc", s) for s in names("multiproc")
    ]


def test_suite_name_defaults_to_the_file_stem(write_suite, sixty):
    data = {k: v for k, v in sixty.items() if k != "name"}
    path = write_suite(file="my-suite.yaml", base=data)
    assert load_suite(path).name == "my-suite"
    with pytest.raises(ConfigError, match="unknown key"):
        load_suite(write_suite(base={**data, "extra": 1}))


def test_sweep_imports_no_heavy_library():
    import subprocess
    import sys

    code = "import schedlab.runs.sweep, schedlab.cli.sweep, sys; print(' '.join(sys.modules))"
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert "schedlab.runs.sweep" in mods
    assert not {"ray", "torch", "pyarrow", "matplotlib"} & mods
