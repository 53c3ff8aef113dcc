"""Heavy dependencies stay optional: the core imports NumPy and nothing heavier."""

import subprocess
import sys

import schedlab

HEAVY = {"torch", "transformers", "peft", "safetensors", "pydantic", "yaml", "matplotlib", "scipy", "pyarrow"}


def _modules_after(code):
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return set(out.stdout.split())


def _top(mods):
    return {m.partition(".")[0] for m in mods}


def test_import_schedlab_is_light():
    mods = _modules_after("import schedlab")
    assert not {"torch", "numpy", "pydantic", "typer", "rich"} & _top(mods)
    assert {m for m in mods if m.startswith("schedlab")} == {"schedlab"}


def test_sim_imports_only_numpy():
    mods = _modules_after("import schedlab.sim")
    assert "numpy" in mods
    assert not (HEAVY | {"typer", "rich"}) & _top(mods)


def test_sim_imports_nothing_of_schedlab_outside_sim():
    mods = _modules_after("import schedlab.sim")
    ours = {m for m in mods if m == "schedlab" or m.startswith("schedlab.")}
    outside = {m for m in ours if m != "schedlab" and m != "schedlab.sim" and not m.startswith("schedlab.sim.")}
    assert not outside, f"import schedlab.sim also imports {sorted(outside)}"
    assert "schedlab.sim.engine" in ours  # the check looks at the right names


def test_running_a_scenario_imports_no_torch():
    mods = _modules_after(
        "import schedlab\n"
        "from schedlab.testing import small_scenario\n"
        "schedlab.simulate(small_scenario('spark-synthetic'), 'fair', 1)\n"
        "schedlab.simulate(small_scenario('edge'), 'round-robin', 1)"
    )
    assert not {"torch", "transformers", "peft", "safetensors"} & _top(mods)


def test_public_names_resolve():
    for name in schedlab.__all__:
        assert getattr(schedlab, name) is not None
    assert schedlab.__version__
