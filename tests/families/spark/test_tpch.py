import json
import shutil

import pytest

from schedlab.errors import DataError
from schedlab.families.spark.dag import check_dag, resolve_profile
from schedlab.families.spark.tpch import find_tpch_dir, load_tpch


def test_resolve_profile_follows_the_reference_rules():
    # first wave loses the values also in fresh (as a multiset); an emptied key borrows the
    # next smaller key's list; keys above the largest map to the largest.
    table, rough = resolve_profile(
        first_wave={2: [5, 5, 7], 5: [9], 10: [4]},
        rest_wave={2: [1], 5: [], 10: []},
        fresh={2: [5], 5: [9], 10: []},
    )
    idle, warm, same, other = table[5]
    assert idle == (9,) and not warm
    assert other == (5, 7)  # key 5's first wave emptied -> key 2's cleaned list
    assert same == (5, 7)  # no rest wave at key 5 -> first wave
    assert table[100] == ((4,), True, (4,), (4,))  # key 10, no fresh -> first wave + warm-up
    assert rough == pytest.approx((5 + 9 + 5 + 7 + 5 + 7 + 4 + 1) / 8)


def test_check_dag_finds_cycles_and_bad_parents():
    assert check_dag(3, [[], [0], [0, 1]]) is None
    assert "cycle" in check_dag(3, [[2], [0], [1]])
    assert "does not exist" in check_dag(2, [[], [5]])


def test_loads_all_sizes(tpch_dir):
    t = load_tpch(tpch_dir)
    assert [len(v) for v in t.values()] == [22] * 7
    stages = [len(q.stages) for q in t["2g"]]
    assert stages == [4, 18, 6, 6, 14, 2, 13, 18, 14, 9, 11, 6, 7, 4, 7, 9, 6, 8, 4, 12, 16, 8]


def test_missing_directory_and_env(monkeypatch):
    monkeypatch.delenv("SCHEDLAB_TPCH_DIR", raising=False)
    with pytest.raises(DataError, match="SCHEDLAB_TPCH_DIR"):
        find_tpch_dir(None)
    with pytest.raises(DataError, match="does not exist"):
        find_tpch_dir("/no/such/dir")


@pytest.fixture
def bad_dir(tmp_path, tpch_dir):
    shutil.copy(tpch_dir / "2g.json", tmp_path / "2g.json")
    return tmp_path


def edit(path, fn):
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="other"), "format: expected format"),
        (lambda d: d["queries"].pop(), "queries: expected a list of 22 queries"),
        (
            lambda d: d["queries"][3]["stages"][1].update(num_tasks=-2),
            "queries[3].stages[1].num_tasks: expected a positive integer",
        ),
        (lambda d: d["queries"][0]["stages"][1].update(parents=[9]), "queries[0].stages: stage 1 names parent 9"),
        (lambda d: d["queries"][0]["stages"][0]["durations_ms"].pop("fresh"), "stages[0].durations_ms.fresh"),
        (
            lambda d: d["queries"][0]["stages"][0]["durations_ms"]["rest_wave"].update({"2": ["x"]}),
            "durations_ms.rest_wave",
        ),
    ],
)
def test_malformed_profiles_name_file_and_field(bad_dir, mutate, message):
    edit(bad_dir / "2g.json", mutate)
    with pytest.raises(DataError) as e:
        load_tpch(bad_dir, ("2g",))
    assert str(bad_dir / "2g.json") in str(e.value) and message in str(e.value)


def test_missing_size_file_and_broken_json(tmp_path):
    with pytest.raises(DataError, match="missing profile file for input size 5g"):
        load_tpch(tmp_path, ("5g",))
    (tmp_path / "2g.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_tpch(tmp_path, ("2g",))
