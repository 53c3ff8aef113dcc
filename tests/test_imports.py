"""Heavy dependencies stay optional: the core imports NumPy and nothing heavier."""

import subprocess
import sys

import schedlab


def _modules_after(code):
    out = subprocess.run([sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return set(out.stdout.split())


def test_import_schedlab_is_light():
    mods = _modules_after("import schedlab")
    assert not {"torch", "numpy", "pydantic", "typer", "rich"} & mods


def test_sim_imports_only_numpy():
    mods = _modules_after("import schedlab.sim")
    assert "numpy" in mods
    assert not {"torch", "pydantic", "typer", "rich", "yaml", "pyarrow", "scipy"} & mods


def test_public_names_resolve():
    for name in schedlab.__all__:
        assert getattr(schedlab, name) is not None
    assert schedlab.__version__
