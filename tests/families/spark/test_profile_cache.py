"""The disk cache of resolved TPC-H profiles: same templates as parsing, keyed by content, never trusted blindly."""

import hashlib
import json
import shutil

import numpy as np
import pytest

from schedlab.families.spark import profile_cache
from schedlab.families.spark.dag import EXECUTOR_LEVELS
from schedlab.families.spark.tpch import _load_size, load_tpch


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv(profile_cache.CACHE_ENV, str(d))
    _load_size.cache_clear()
    yield d / "tpch"
    _load_size.cache_clear()


@pytest.fixture
def one_size(tmp_path, tpch_dir):
    d = tmp_path / "profiles"
    d.mkdir()
    shutil.copy(tpch_dir / "2g.json", d / "2g.json")
    return d


def parsed(directory, monkeypatch, sizes=("2g",)):
    monkeypatch.setenv(profile_cache.CACHE_ENV, "off")
    _load_size.cache_clear()
    try:
        return load_tpch(directory, sizes)
    finally:
        _load_size.cache_clear()


def full(templates):
    """Every stage's table as a plain dict, so lazily built entries are compared too."""
    return [[(s.index, s.parents, s.num_tasks, s.rough_duration_ms, dict(s.table.items())) for s in t.stages]
            for t in templates]  # fmt: skip


def test_a_hit_gives_what_parsing_gives(cache, one_size, monkeypatch):
    first = load_tpch(one_size, ("2g",))
    key = hashlib.sha256((one_size / "2g.json").read_bytes()).hexdigest()
    assert [p.name for p in cache.iterdir()] == [f"{key}-v{profile_cache.VERSION}.npz"]
    _load_size.cache_clear()
    hit = load_tpch(one_size, ("2g",))
    want = parsed(one_size, monkeypatch)
    assert [t.name for t in hit["2g"]] == [t.name for t in want["2g"]] == [t.name for t in first["2g"]]
    assert full(hit["2g"]) == full(want["2g"])
    assert hit == want  # the lazy tables compare equal to plain ones


def test_the_same_bytes_under_another_size_get_that_size_in_their_names(cache, one_size):
    shutil.copy(one_size / "2g.json", one_size / "5g.json")
    t = load_tpch(one_size, ("2g", "5g"))
    assert len(list(cache.iterdir())) == 1
    _load_size.cache_clear()
    t = load_tpch(one_size, ("5g", "2g"))
    assert t["5g"][0].name.endswith("-5g") and t["2g"][0].name.endswith("-2g")


def test_an_edited_file_is_a_new_key(cache, one_size, monkeypatch):
    load_tpch(one_size, ("2g",))
    doc = json.loads((one_size / "2g.json").read_text())
    stage = doc["queries"][0]["stages"][0]["durations_ms"]
    for wave in ("first_wave", "rest_wave", "fresh"):
        for k in stage[wave]:
            stage[wave][k] = [7 for _ in stage[wave][k]]
    (one_size / "2g.json").write_text(json.dumps(doc))
    _load_size.cache_clear()
    t = load_tpch(one_size, ("2g",))
    assert len(list(cache.iterdir())) == 2
    assert t["2g"][0].stages[0].rough_duration_ms == 7
    assert full(t["2g"]) == full(parsed(one_size, monkeypatch)["2g"])


def entry(cache):
    (path,) = cache.iterdir()
    with np.load(path, allow_pickle=False) as z:
        return path, {k: z[k] for k in z.files}


@pytest.mark.parametrize(
    "damage",
    [
        lambda p, z: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        lambda p, z: p.write_bytes(b"not an npz"),
        lambda p, z: np.savez(p.open("wb"), **{**z, "durations": -z["durations"]}),
        lambda p, z: np.savez(p.open("wb"), **{**z, "refs": z["refs"] + 10**9}),
        lambda p, z: np.savez(p.open("wb"), **{**z, "parents": z["parents"] + 50}),
        lambda p, z: np.savez(p.open("wb"), **{k: v for k, v in z.items() if k != "warm"}),
        lambda p, z: np.savez(p.open("wb"), **{**z, "names": np.array(["x"])}),
    ],
    ids=["truncated", "garbage", "negative-durations", "refs-out-of-range", "bad-parents", "missing-array", "names"],
)
def test_a_damaged_entry_is_a_miss_and_is_rewritten(cache, one_size, monkeypatch, damage):
    load_tpch(one_size, ("2g",))
    path, z = entry(cache)
    damage(path, z)
    _load_size.cache_clear()
    assert profile_cache.load_cached((one_size / "2g.json").read_bytes(), "2g") is None
    t = load_tpch(one_size, ("2g",))
    assert full(t["2g"]) == full(parsed(one_size, monkeypatch)["2g"])
    _load_size.cache_clear()
    monkeypatch.setenv(profile_cache.CACHE_ENV, str(cache.parent))
    assert profile_cache.load_cached((one_size / "2g.json").read_bytes(), "2g") is not None


def test_an_unwritable_cache_or_off_changes_nothing(tmp_path, one_size, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(profile_cache.CACHE_ENV, str(blocker / "cache"))
    _load_size.cache_clear()
    assert len(load_tpch(one_size, ("2g",))["2g"]) == 22
    monkeypatch.setenv(profile_cache.CACHE_ENV, "off")
    assert profile_cache.cache_dir() is None
    _load_size.cache_clear()
    assert len(load_tpch(one_size, ("2g",))["2g"]) == 22
    assert not (tmp_path / "cache").exists()


def test_default_location_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(profile_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert profile_cache.cache_dir() == tmp_path / "schedlab"


def test_a_lazy_table_is_a_complete_mapping(cache, one_size):
    load_tpch(one_size, ("2g",))
    _load_size.cache_clear()
    table = load_tpch(one_size, ("2g",))["2g"][1].stages[0].table
    assert type(table).__name__ == "_LazyTable"
    assert list(table) == list(EXECUTOR_LEVELS) and len(table) == len(EXECUTOR_LEVELS)
    assert 50 in table and 7 not in table and table.get(7) is None
    idle, warm, same, other = table[50]
    assert isinstance(idle, tuple) and isinstance(warm, bool) and all(isinstance(x, int) for x in same + other)
    with pytest.raises(KeyError):
        table[7]


def test_a_bad_profile_is_never_cached(cache, one_size):
    (one_size / "2g.json").write_text('{"format": "tpch-spark-profile/1", "queries": []}')
    with pytest.raises(Exception, match="22 queries"):
        load_tpch(one_size, ("2g",))
    assert not cache.exists() or not list(cache.iterdir())


def test_runs_are_identical_with_and_without_the_cache(cache, tpch_dir, monkeypatch):
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    sc = load_scenario("spark-tpch", {"workload.jobs": 20, "workload.tpch_dir": str(tpch_dir)})
    with_cache = [simulate(sc, "fair", 3).trace.to_dict(timing=False) for _ in range(2)]  # miss, then hit
    _load_size.cache_clear()
    monkeypatch.setenv(profile_cache.CACHE_ENV, "off")
    without = simulate(sc, "fair", 3).trace.to_dict(timing=False)
    assert with_cache[0] == with_cache[1] == without
