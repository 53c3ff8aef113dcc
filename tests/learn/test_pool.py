"""Experience pools: what is recorded is what the scheduler did, and a pool is appendable, resumable and checked."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from schedlab import testing
from schedlab.cli import app
from schedlab.errors import ConfigError, DataError
from schedlab.learn.decima.features import to_assign
from schedlab.learn.pool import collect, episode_file, pool_info, read_pool, record_episode
from schedlab.runs import simulate
from schedlab.schedulers.base import Scheduler

SC = testing.small_scenario("spark-synthetic", {"workload.jobs": 6, "cluster.executors": 5})
DATA = SC.model_dump(mode="json")


def test_rewards_sum_to_minus_the_job_seconds_and_rtg_is_their_tail_sum():
    ep = record_episode(DATA, "srwf", 10000)
    jct = simulate(SC, "srwf", 10000).metrics["avg_jct_s"]
    assert ep["avg_jct_s"] == pytest.approx(jct)
    assert -ep["rewards"].sum() == pytest.approx(jct * 6, rel=1e-9)
    tail = np.cumsum(ep["rewards"][::-1])[::-1]
    np.testing.assert_allclose(ep["return_to_go"], tail, rtol=1e-9, atol=1e-9)
    assert (ep["rewards"] <= 0).all() and len(ep["decisions"]) == len(ep["actions"]) > 5


class Replay(Scheduler):
    """Acts by the recorded (slot, limit) pairs, one per recorded decision point."""

    families = ("spark",)

    def __init__(self, actions):
        self.actions = iter(actions)

    def decide(self, view):
        if not view.schedulable or view.committable < 1:
            return []
        from schedlab.learn.decima.features import observe

        slot, limit = next(self.actions)
        a = to_assign(view, observe(view), int(slot), int(limit))
        return [a] if a is not None else []


@pytest.mark.parametrize("scheduler", ["fair", "srwf-tuned", "decima", "random"])
def test_replaying_the_recorded_actions_gives_the_same_schedule(scheduler):
    ep = record_episode(DATA, scheduler, 10001)
    assert ep["skipped"] == 0
    want = simulate(SC, scheduler, 10001).trace
    got = simulate(SC, Replay(ep["actions"]), 10001).trace
    assert got.tasks == want.tasks


def test_collect_writes_reads_back_resumes_and_appends(tmp_path):
    pool = tmp_path / "pool"
    first = collect(pool, SC, ["fair", "srwf"], [10000, 10001], workers=1)
    assert len(first) == 4 and all(episode_file(pool, r["scheduler"], r["seed"]).is_file() for r in first)
    assert collect(pool, SC, ["fair", "srwf"], [10000, 10001], workers=1) == []  # resumed: nothing left
    episode_file(pool, "srwf", 10001).unlink()  # an interrupted run lacks an episode
    again = collect(pool, SC, ["fair", "srwf", "cpf"], [10000, 10001], workers=2)
    assert sorted((r["scheduler"], r["seed"]) for r in again) == [("cpf", 10000), ("cpf", 10001), ("srwf", 10001)]

    p = read_pool(pool)
    assert p.scenario == DATA and len(p.files) == 6
    ep = next(e for e in p.episodes() if e.scheduler == "srwf" and e.seed == 10001)
    want = record_episode(DATA, "srwf", 10001)
    assert len(ep.decisions) == len(want["decisions"]) and ep.skipped == 0
    np.testing.assert_array_equal(ep.actions, want["actions"])
    np.testing.assert_allclose(ep.return_to_go, want["return_to_go"])
    for a, b in zip(ep.decisions, want["decisions"], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        for f in ("src", "dst", "level", "node_job", "stage_node", "base"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        assert (a.committable, a.num_executors, a.can_pass) == (b.committable, b.num_executors, b.can_pass)

    info = pool_info(pool)
    assert info["episodes"] == 6 and set(info["schedulers"]) == {"fair", "srwf", "cpf"}
    assert info["steps"] == sum(len(e.decisions) for e in p.episodes())
    s = info["schedulers"]["srwf"]
    assert s["return_min"] <= s["return_p50"] <= s["return_max"] < 0


def test_parallel_collection_writes_the_same_episodes(tmp_path):
    collect(tmp_path / "a", SC, ["srwf", "random"], [10002, 10003], workers=1)
    collect(tmp_path / "b", SC, ["srwf", "random"], [10002, 10003], workers=2)
    ea = {(e.scheduler, e.seed): e for e in read_pool(tmp_path / "a").episodes()}
    eb = {(e.scheduler, e.seed): e for e in read_pool(tmp_path / "b").episodes()}
    assert ea.keys() == eb.keys()
    for k in ea:
        np.testing.assert_array_equal(ea[k].actions, eb[k].actions)
        np.testing.assert_array_equal(ea[k].rewards, eb[k].rewards)


def test_bad_collections_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a training seed"):
        collect(tmp_path / "p", SC, ["fair"], [3])
    with pytest.raises(ConfigError, match="Did you mean 'fair'"):
        collect(tmp_path / "p", SC, ["fiar"], [10000])
    with pytest.raises(ConfigError, match="spark episodes"):
        collect(tmp_path / "p", testing.small_scenario("hetero"), ["fair"], [10000])
    assert not (tmp_path / "p").exists()
    collect(tmp_path / "p", SC, ["fair"], [10000])
    other = testing.small_scenario("spark-synthetic", {"workload.jobs": 7})
    with pytest.raises(DataError, match="another scenario"):
        collect(tmp_path / "p", other, ["fair"], [10001])
    (tmp_path / "f").write_text("")
    with pytest.raises(DataError, match="is a file"):
        collect(tmp_path / "f", SC, ["fair"], [10000])


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda pool: (pool / "pool.json").write_text("{"), "pool.json"),
        (lambda pool: (pool / "pool.json").write_text(json.dumps({"format": "other"})), "expected format"),
        (lambda pool: episode_file(pool, "fair", 10000).write_bytes(b"PAR1 not parquet"), "unreadable episode"),
    ],
)
def test_a_damaged_pool_is_named(tmp_path, damage, message):
    pool = tmp_path / "pool"
    collect(pool, SC, ["fair"], [10000])
    damage(pool)
    with pytest.raises(DataError, match=message):
        list(read_pool(pool).episodes())
        pool_info(pool)


def test_cli_collects_and_summarises(tmp_path):
    runner = CliRunner()
    spec = tmp_path / "sc.yaml"
    spec.write_text(
        "name: tiny\nfamily: spark\ncluster: {executors: 5}\n"
        "workload: {kind: synthetic, jobs: 5, arrival_rate_per_ms: 4.0e-5}\n"
    )
    pool = tmp_path / "pool"
    r = runner.invoke(app, ["pool", "collect", "--out", str(pool), "--scenario", str(spec), "-s", "fair,srwf",
                            "--seeds", "10000-10001", "--workers", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "4 episode(s) collected now" in r.output
    r = runner.invoke(app, ["pool", "info", str(pool)])
    assert r.exit_code == 0 and "srwf" in r.output and "4 episodes" in " ".join(r.output.split())
    r = runner.invoke(app, ["pool", "collect", "--out", str(pool), "--scenario", str(spec), "--seeds", "1-2"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "schedlab: error: --seeds" in r.output
    r = runner.invoke(app, ["pool", "info", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "not an experience pool" in r.output


def test_a_driven_episode_is_the_drivers_run_labelled_by_the_scheduler():
    driven = record_episode(DATA, "srwf", 10000, driver="fair")
    assert driven["avg_jct_s"] == pytest.approx(simulate(SC, "fair", 10000).metrics["avg_jct_s"])
    fair = record_episode(DATA, "fair", 10000)
    # The driver's states: the same decision points as fair's own episode, labelled by srwf.
    assert len(driven["decisions"]) == len(fair["decisions"])
    for a, b in zip(driven["decisions"], fair["decisions"]):
        np.testing.assert_array_equal(a.x, b.x)
    assert not np.array_equal(driven["actions"], fair["actions"])
    np.testing.assert_array_equal(driven["acted"], fair["actions"])  # what the driver did
    assert driven["agree"] == int((driven["actions"] == fair["actions"]).all(axis=1).sum())
    # A scheduler driving itself agrees with every label and records its own episode.
    same = record_episode(DATA, "srwf", 10000, driver="srwf")
    np.testing.assert_array_equal(same["actions"], record_episode(DATA, "srwf", 10000)["actions"])
    assert same["agree"] == len(same["actions"])


def test_driven_episodes_are_stored_apart_and_summarised_with_their_agreement(tmp_path):
    pool = tmp_path / "pool"
    collect(pool, SC, ["srwf"], [10000], workers=1)
    got = collect(pool, SC, ["srwf"], [10000], workers=1, driver="fair")
    assert [r["scheduler"] for r in got] == ["srwf@fair"] and episode_file(pool, "srwf@fair", 10000).is_file()
    assert collect(pool, SC, ["srwf"], [10000], workers=1, driver="fair") == []  # held: resumable
    eps = {e.scheduler: e for e in read_pool(pool).episodes()}
    assert eps["srwf"].acted is None
    np.testing.assert_array_equal(eps["srwf@fair"].acted, record_episode(DATA, "fair", 10000)["actions"])
    np.testing.assert_array_equal(eps["srwf@fair"].actions, record_episode(DATA, "srwf", 10000, "fair")["actions"])
    info = pool_info(pool)["schedulers"]
    assert np.isnan(info["srwf"]["agree"]) and 0 < info["srwf@fair"]["agree"] < 1
    assert info["srwf@fair"]["agree"] == pytest.approx(got[0]["agree"] / got[0]["steps"])
    r = CliRunner().invoke(app, ["pool", "info", str(pool)])
    assert r.exit_code == 0 and "agree" in r.output, r.output
    with pytest.raises(ConfigError, match="fiar"):
        collect(pool, SC, ["srwf"], [10001], workers=1, driver="fiar")


def test_cli_collects_driven_episodes(tmp_path):
    pool = tmp_path / "pool"
    spec = tmp_path / "sc.json"
    spec.write_text(json.dumps(DATA))
    args = ["pool", "collect", "--out", str(pool), "--scenario", str(spec), "-s", "srwf", "--seeds", "10000"]
    r = CliRunner().invoke(app, [*args, "--driver", "fair", "--workers", "1"])
    assert r.exit_code == 0 and "the driver agreeing with" in r.output, r.output
    assert episode_file(pool, "srwf@fair", 10000).is_file()
    r = CliRunner().invoke(app, [*args, "--driver", "fiar"])
    assert r.exit_code == 2 and r.output.count("\n") == 1 and "fair" in r.output, r.output


def test_a_rollout_labeller_leaves_the_options_it_weighed_with_their_costs(tmp_path):
    pool = tmp_path / "pool"
    collect(pool, SC, ["rollout", "srwf"], [10000], workers=1)
    eps = {e.scheduler: e for e in read_pool(pool).episodes()}
    assert eps["srwf"].options is None  # a scheduler that weighs nothing leaves no columns
    ep = eps["rollout"]
    assert ep.avg_jct_s == pytest.approx(simulate(SC, "rollout", 10000).metrics["avg_jct_s"])
    assert len(ep.options) == len(ep.actions)
    weighed = [t for t, o in enumerate(ep.options) if len(o)]
    assert weighed and len(weighed) < len(ep.options)  # some decisions had one option only
    switched = 0
    for t in weighed:
        o = ep.options[t]
        assert len(o) >= 2 and np.isfinite(o[:, 2]).all() and (o[:, 2] > 0).all()
        hit = (o[:, 0] == ep.actions[t, 0]) & (o[:, 1] == ep.actions[t, 1])
        assert hit.any()  # the label is one of the options
        # The base's action (the first row), or one clearly cheaper than it.
        if not hit[0]:
            switched += 1
            assert o[hit, 2].min() < o[0, 2] * (1 - 0.003)
    assert switched


def test_pool_info_fits_an_80_column_terminal_with_a_long_scheduler_name(tmp_path, monkeypatch):
    from schedlab.cli import common

    monkeypatch.setattr(common.out, "width", 80)
    pool = tmp_path / "pool"
    long = "schedlab.families.spark.schedulers:ShortestRemainingWorkFirst"
    collect(pool, SC, [long], [10000], workers=1)
    collect(pool, SC, ["srwf"], [10000], workers=1, driver="fair")
    r = CliRunner().invoke(app, ["pool", "info", str(pool)])
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.output.splitlines()) <= 80, r.output
    info = pool_info(pool)["schedulers"]
    for row in info.values():  # every column's value is there, uncut
        assert f"{row['return_max']:,.0f}" in r.output and f"{row['avg_jct_s']:.2f}" in r.output
    assert f"{info['srwf@fair']['agree']:.1%}" in r.output
