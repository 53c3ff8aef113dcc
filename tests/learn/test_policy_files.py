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
