"""Policy files: the NumPy-only safetensors reader agrees with the library, and refuses bad files."""

from __future__ import annotations

import numpy as np
import pytest

from schedlab.errors import DataError
from schedlab.learn.policy import read_arrays


def test_numpy_reader_matches_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    arrays = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([1.5, -2.0], dtype=np.float64),
        "i": np.array([[1], [2]], dtype=np.int64),
        "scalar": np.array(3.0, dtype=np.float32),
    }
    path = tmp_path / "w.safetensors"
    st.save_file(arrays, str(path), metadata={"format": "test"})
    got = read_arrays(path)
    assert set(got) == set(arrays)
    for k, v in arrays.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape
        np.testing.assert_array_equal(got[k], v)


def test_shipped_decima_weights_read_without_torch():
    from importlib import resources

    path = resources.files("schedlab.learn") / "policies" / "spark-decima" / "weights.safetensors"
    arrays = read_arrays(str(path))
    assert sum(a.size for a in arrays.values()) == 20_002


@pytest.mark.parametrize(
    "content",
    [b"", b"\x05\x00\x00\x00\x00\x00\x00\x00{}", b"\x02\x00\x00\x00\x00\x00\x00\x00[]", b"\xff" * 16],
    ids=["empty", "short-header", "not-an-object", "garbage"],
)
def test_bad_files_are_one_data_error(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a safetensors file"):
        read_arrays(path)
    with pytest.raises(DataError, match="missing"):
        read_arrays(tmp_path / "absent.safetensors")


def test_policy_path_takes_a_directory_or_a_shipped_name(tmp_path):
    import shutil

    from schedlab.learn.policy import POLICY_FILE, policy_path, read_card

    shipped = policy_path("hetero-ppo")
    assert (shipped / POLICY_FILE).is_file() and read_card(shipped)["family"] == "hetero"
    mine = tmp_path / "mine"
    shutil.copytree(shipped, mine)
    assert policy_path(str(mine)) == mine
    for bad in ("no-such-policy", str(tmp_path / "empty"), "../policies/hetero-ppo"):
        with pytest.raises(DataError, match="no policy here"):
            policy_path(bad)


@pytest.mark.parametrize("family, name", [("multiproc", "ppo"), ("multiproc", "dqn"), ("hetero", "ppo")])
def test_shipped_sb3_policies_run_as_registered_schedulers(family, name):
    pytest.importorskip("gymnasium")
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.testing import small_scenario

    scenario = small_scenario(family)
    a = simulate(scenario, name, 3)
    b = simulate(scenario, name, 3)
    assert check_trace(a.trace).ok
    assert a.trace.tasks["worker"] == b.trace.tasks["worker"]  # greedy: same seed, same trace
