from __future__ import annotations

import pyarrow.parquet as pq
import pytest
import yaml

#: A Spark scenario small enough that one run takes a few tens of milliseconds.
TINY_SCENARIO = {
    "name": "tiny-spark",
    "family": "spark",
    "cluster": {"executors": 6},
    "workload": {"kind": "synthetic", "jobs": 4, "max_stages": 5, "max_tasks": 40},
}

#: 3 schedulers x 2 job counts x 10 seeds = 60 runs.
SIXTY = {
    "name": "sixty",
    "scenarios": ["tiny.yaml"],
    "schedulers": ["fair", "fifo", "srwf"],
    "seeds": "1-10",
    "params": {"workload.jobs": [4, 8]},
}


@pytest.fixture
def write_suite(tmp_path):
    """Write a suite (a dict, changed by keyword arguments) next to tiny.yaml; return its path."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY_SCENARIO))

    def write(file="suite.yaml", base=SIXTY, **changes):
        data = {**base, **changes}
        data = {k: v for k, v in data.items() if v is not None}
        path = tmp_path / file
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


def _rows_without_timing(path):
    table = pq.read_table(path)
    keep = [c for c in table.column_names if not c.startswith("timing.")]
    assert len(keep) < len(table.column_names)  # the timing columns are there, and dropped
    return table.select(keep).to_pylist()


@pytest.fixture
def rows_without_timing():
    """The rows of a runs.parquet, without the wall-clock ``timing.`` columns."""
    return _rows_without_timing


@pytest.fixture
def sixty():
    """The 60-run suite as a dict."""
    return dict(SIXTY)
