from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TPCH_DIR = ROOT.parent / "shared" / "datasets" / "tpch"


@pytest.fixture
def tpch_dir():
    if not (TPCH_DIR / "2g.json").is_file():
        pytest.skip("TPC-H profiles not found at ../shared/datasets/tpch")
    return TPCH_DIR
