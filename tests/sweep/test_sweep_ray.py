"""The same grid as Ray tasks on a local Ray gives the same rows as the process pool."""

import pytest
from typer.testing import CliRunner

from schedlab.cli import app

ray = pytest.importorskip("ray")
runner = CliRunner()


@pytest.fixture
def no_ray_left():
    yield
    still_up = ray.is_initialized()
    ray.shutdown()
    assert not still_up, "the sweep left Ray running"


def test_ray_and_pool_give_identical_rows(write_suite, tmp_path, rows_without_timing, no_ray_left):
    suite = write_suite()
    pool, on_ray = tmp_path / "pool", tmp_path / "ray"
    r = runner.invoke(app, ["sweep", str(suite), "--out", str(pool), "--workers", "2", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sweep", str(suite), "--out", str(on_ray), "--ray", "--workers", "2", "-q"])
    assert r.exit_code == 0, r.output
    assert "60 runs (60 run now, 0 reused)" in r.output
    rows = rows_without_timing(on_ray / "runs.parquet")
    assert len(rows) == 60 and rows == rows_without_timing(pool / "runs.parquet")
