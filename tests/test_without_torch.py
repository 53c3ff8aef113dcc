"""Without torch (and transformers, peft, safetensors) the core, baselines, checker, report and
command line work, and the test suite collects: learned tests skip with a reason."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BLOCKER = Path(__file__).parent / "without_torch"
ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys, tempfile
from pathlib import Path

import schedlab
from schedlab import plugins, testing
from schedlab.metrics.checker import check_trace
from schedlab.schedulers import default_name

try:
    import torch  # noqa: F401
    sys.exit("torch imported although blocked")
except ImportError:
    pass

runs = {}
for spec in plugins.specs():
    preset = spec.preset_names()[0]
    result = schedlab.simulate(testing.small_scenario(preset), default_name(spec.name), seed=1)
    assert check_trace(result.trace).ok, preset
    assert result.metrics["unfinished_jobs"] == 0, preset
    runs[preset] = result.metrics["completed_jobs"]

from typer.testing import CliRunner
from schedlab.cli import app

cli = CliRunner()
out = Path(tempfile.mkdtemp())
for args in (
    ["list"],
    ["run", "spark-synthetic", "--jobs", "5", "--trace", str(out / "t.json"), "-q"],
    ["run", "multiproc", "--scheduler", "lwr", "-q"],
    ["check", str(out / "t.json"), "-q"],
    ["compare", "spark-synthetic", "--schedulers", "fair,fifo", "--seeds", "1-2", "--jobs", "5",
     "--workers", "1", "--out", str(out / "cmp")],
    ["report", str(out / "cmp"), "-q"],
):
    r = cli.invoke(app, args)
    assert r.exit_code == 0, (args, r.output, r.exception)
assert (out / "cmp" / "report.html").is_file()
heavy = sorted(m for m in sys.modules if m.partition(".")[0] in ("torch", "transformers", "peft", "safetensors"))
print(json.dumps({"runs": runs, "heavy": heavy}))
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BLOCKER), env.get("PYTHONPATH", "")) if p)
    env["MPLBACKEND"] = "Agg"
    return env


def test_blocker_makes_torch_unimportable():
    proc = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=_env())
    assert proc.returncode != 0 and "blocked: testing without torch" in proc.stderr


def test_core_baselines_checker_report_and_cli_work_without_torch():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    from schedlab import plugins

    assert len(result["runs"]) == len(plugins.names()) and all(n > 0 for n in result["runs"].values())


@pytest.mark.slow
def test_the_test_suite_collects_without_torch():
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-rs", str(ROOT / "tests")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), cwd=ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "error" not in out.strip().splitlines()[-1].lower(), out
    assert "ImportError" not in out and "ModuleNotFoundError" not in out, out
