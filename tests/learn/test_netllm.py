"""NetLLM: windows stay in their episode, targets point at their tokens, attention is causal,
the KV cache changes nothing, training lowers the loss, the scheduler is checked and deterministic."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

import torch  # noqa: E402
import yaml  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from schedlab import testing  # noqa: E402
from schedlab.cli import app  # noqa: E402
from schedlab.learn.netllm import data as nd  # noqa: E402
from schedlab.learn.pool import collect  # noqa: E402

torch.set_num_threads(1)
SC = testing.small_scenario("spark-synthetic", {"workload.jobs": 6, "cluster.executors": 5})


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("netllm") / "pool"
    collect(path, SC, ["fair", "srwf"], [10000], workers=1)
    collect(path, SC, ["srwf-tuned"], [10001], workers=1)
    return path


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A tiny random BERT (same family as MiniLM) saved as a local model folder."""
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bb") / "tiny-bert"
    BertModel(cfg).save_pretrained(str(path))
    return str(path)


def _trainer(pool, backbone, **params):
    from schedlab.learn.netllm.trainer import NetLLMTrainer

    p = {"pool": str(pool), "backbone": backbone, "context": 4, "batch_size": 4, "updates": 2, **params}
    return NetLLMTrainer("spark", "netllm", SC, seed=0, params=p)


@pytest.fixture(scope="module")
def trainer(pool, backbone):
    tr = _trainer(pool, backbone)
    tr._prepare()
    return tr


def _fake_episode(stage_counts, seed=0, width=nd.STAGE_DIM):
    """Steps with distinct random features, the chosen stage of step t at index t % m."""
    rng = np.random.default_rng(seed)
    counts = np.asarray(stage_counts)
    t = len(counts)
    return nd.EpisodeSteps(
        offsets=np.concatenate([[0], np.cumsum(counts)]),
        feats=rng.normal(size=(counts.sum(), width)).astype(np.float32),
        target=np.array([i % c for i, c in enumerate(counts)]),
        limit=np.full(t, 2),
        lo=np.ones(t, dtype=np.int64),
        hi=np.full(t, 5),
        exec_feat=rng.normal(size=(t, nd.EXEC_DIM)).astype(np.float32),
        act_extra=rng.normal(size=(t, 3)).astype(np.float32),
        rtg=-np.arange(t, 0, -1, dtype=np.float64),
        num_executors=np.full(t, 5),
        limit_ctx=np.arange(3 * t).reshape(t, 3),
    )


def test_windows_never_cross_episodes(trainer):
    assert len(trainer.data) == 3
    for w in trainer._windows(64):
        ep = trainer.data[w.episode]
        steps = np.unique(w.step)
        assert steps[0] == w.start >= 0 and steps[-1] < len(ep)
        assert np.array_equal(steps, np.arange(w.start, steps[-1] + 1))
        for j, t in enumerate(steps):  # every stage token is this episode's step t
            got = w.feat[w.stage_pos[j][w.stage_pos[j] >= 0], : ep.feats.shape[1]]
            np.testing.assert_array_equal(got, ep.stages(t))
    # a window ending near an episode's start is shorter, not filled from another episode
    w = nd.build_window(trainer.data[1], 1, 4, 512, 16, 1.0)
    assert w.start == 0 and len(w.target) == 2


@pytest.mark.parametrize("job_features", [False, True])
def test_truncated_window_targets_point_at_their_own_tokens(job_features):
    sd = nd.stage_dim(job_features)
    ep = _fake_episode([3, 7, 2, 6, 5, 4], width=sd)
    full = nd.build_window(ep, 5, 6, 10_000, 16, 1.0)
    assert full.start == 0 and len(full.types) == sum(2 + c + 1 for c in [3, 7, 2, 6, 5]) + 2 + 4
    w = nd.build_window(ep, 5, 6, 20, 16, 1.0)  # room for the last steps only
    assert w.start > 0 and len(w.types) <= 20
    assert len(w.target) == 6 - w.start
    np.testing.assert_array_equal(w.limit_ctx, ep.limit_ctx[w.start :])
    for j, t in enumerate(range(w.start, 6)):
        pos = w.stage_pos[j][w.stage_pos[j] >= 0]
        assert (w.types[pos] == nd.STAGE).all() and (w.step[pos] == t).all()
        chosen = pos[w.target[j]]
        np.testing.assert_array_equal(w.feat[chosen, :sd], ep.stages(t)[ep.target[t]])
        assert w.types[pos[0] - 1] == nd.EXEC and w.step[pos[0] - 1] == t
        np.testing.assert_array_equal(w.feat[pos[0] - 1, : nd.EXEC_DIM], ep.exec_feat[t])
        assert w.types[pos[0] - 2] == nd.RTG and w.feat[pos[0] - 2, 0] == ep.rtg[t]
        if t < 5:
            act = pos[-1] + 1
            assert w.types[act] == nd.ACT and w.step[act] == t
            np.testing.assert_array_equal(w.feat[act, :sd], ep.stages(t)[ep.target[t]])
            np.testing.assert_array_equal(w.feat[act, sd : sd + 3], ep.act_extra[t])
    assert w.types[-1] == nd.STAGE  # the last step has no action token
    with pytest.raises(ValueError):
        nd.build_window(ep, 5, 6, 5, 16, 1.0)  # one step alone does not fit


def test_job_numbers_rank_the_offered_jobs_and_mark_each_jobs_next_stage():
    from schedlab.learn.decima.features import Decision

    x = np.zeros((7, 5), dtype=np.float32)
    x[:, 4] = [0.5, 0.5, 3.0, 0.2, 0.1, 1.0, 1.0]  # jobs: 0 -> 1.0, 1 -> 3.0, 2 -> 0.3, 3 -> 2.0
    d = Decision(
        x=x,
        src=np.array([5]),
        dst=np.array([6]),  # node 6 waits on node 5
        level=np.zeros(7, dtype=np.int64),
        node_job=np.array([0, 0, 1, 2, 2, 3, 3]),
        stage_node=np.array([0, 1, 2, 6]),  # job 2 has no offered stage; job 3 offers only node 6
        base=np.array([2, 0, 5, 1]),
        committable=2,
        num_executors=8,
    )
    z = nd.job_numbers(d)
    assert z.shape == (7, nd.JOB_DIM)
    per_job = z[[0, 2, 3, 5]]
    np.testing.assert_allclose(per_job[:, 0], np.log1p([1.0, 3.0, 0.3, 2.0]), rtol=1e-6)
    np.testing.assert_allclose(per_job[:, 1], [0.0, 2 / 3, 1.0, 1 / 3], rtol=1e-6)  # least first, offered jobs
    np.testing.assert_array_equal(per_job[:, 2], [1, 0, 0, 0])
    np.testing.assert_allclose(per_job[:, 3], [1.0, 0.0, 2.5, 0.5])  # executors over an equal share (8 / 4)
    np.testing.assert_array_equal(z[:, :4][[0, 3, 5]], z[:, :4][[1, 4, 6]])  # the same for a job's stages
    np.testing.assert_array_equal(z[:, 4], [0, 0, 0, 0, 0, 0, 1])
    # job 0: its first ready offered stage; job 3: only a waiting one is offered, so that one
    np.testing.assert_array_equal(z[:, 5], [1, 0, 1, 0, 0, 0, 1])


def test_job_features_widen_only_the_stage_and_action_tokens(pool, backbone):
    a, b = _trainer(pool, backbone, job_features=False), _trainer(pool, backbone)
    sa, sb = a.net.trainable_state(), b.net.trainable_state()
    assert sa.keys() == sb.keys()
    wider = {k for k in sa if sa[k].shape != sb[k].shape}
    assert wider == {"proj_stage.weight", "proj_act.weight"}
    assert sb["proj_stage.weight"].shape[1] == sa["proj_stage.weight"].shape[1] + nd.JOB_DIM
    a._prepare()
    b._prepare()
    for ea, eb in zip(a.data, b.data):
        np.testing.assert_array_equal(eb.feats[:, : nd.STAGE_DIM], ea.feats)
        assert eb.feats.shape[1] == nd.stage_dim(True)
        assert (eb.feats[:, nd.STAGE_DIM + 2] <= 1).all() and eb.feats[:, nd.STAGE_DIM + 2].max() == 1
        for t in range(len(eb)):  # some kept stage is its job's next one
            st = eb.stages(t)
            assert st[:, -1].sum() >= 1


def test_limit_numbers_describe_each_count_against_the_job_and_the_free_executors():
    from schedlab.learn.netllm.model import limit_numbers

    z = limit_numbers(torch.tensor([[2, 3, 4], [0, 1, 1]]), 8)  # 8 executors
    assert z.shape == (2, 8, nd.LIMIT_DIM)
    counts = np.arange(1, 9)
    np.testing.assert_allclose(z[0, :, 0], counts / 8)
    np.testing.assert_allclose(z[0, :, 1], (counts - 2) / 8)  # executors it adds to the job's 2
    np.testing.assert_allclose(z[0, :, 2], (5 - counts) / 8)  # free ones it leaves of 3
    np.testing.assert_allclose(z[0, :, 3], counts * 4 / 8)  # in equal shares of 4 jobs
    np.testing.assert_array_equal(z[0, :, 4], counts == 5)  # every free executor
    np.testing.assert_array_equal(z[0, :, 5], counts <= 2)  # adds none: a pass
    np.testing.assert_array_equal(z[1, :, 4], counts == 1)


def test_limit_features_add_a_count_scorer_that_reads_the_step(pool, backbone):
    a, b = _trainer(pool, backbone, limit_features=False), _trainer(pool, backbone)
    sa, sb = a.net.trainable_state(), b.net.trainable_state()
    assert set(sb) - set(sa) and all(k.startswith(("limit_query.", "limit_key.")) for k in set(sb) - set(sa))
    b._prepare()
    ep = b.data[0]
    assert ep.limit_ctx.shape == (len(ep), 3) and (ep.limit_ctx[:, 2] >= 1).all()
    batch = to_torch_batch(nd.collate_windows(b._windows(4)))
    b.net.eval()
    with torch.no_grad():
        _, z1 = b.net(batch)
        batch["limit_ctx"] = batch["limit_ctx"] + torch.tensor([0, 1, 0])  # one more free executor
        _, z2 = b.net(batch)
    ok = torch.isfinite(z1)
    assert not torch.allclose(z1[ok], z2[ok])


def to_torch_batch(batch):
    return {k: torch.from_numpy(v) for k, v in batch.items()}


def test_attention_is_causal(trainer):
    w = nd.build_window(trainer.data[0], 6, 4, 512, 16, trainer.rtg_scale)
    b = {k: torch.from_numpy(v) for k, v in nd.collate_windows([w]).items()}
    trainer.net.eval()
    with torch.no_grad():
        h1, _ = trainer.net.encode(b["feat"], b["types"], b["timestep"])
        cut = len(w.types) // 2
        feat2 = b["feat"].clone()
        feat2[0, cut:] += 3.0
        h2, _ = trainer.net.encode(feat2, b["types"], b["timestep"])
    assert torch.allclose(h1[0, :cut], h2[0, :cut], atol=1e-6)
    assert not torch.allclose(h1[0, cut:], h2[0, cut:], atol=1e-3)


def test_kv_cached_session_equals_full_re_encoding(trainer):
    from schedlab.learn.netllm.model import Session

    ep = trainer.data[0]
    net = trainer.net
    net.eval()
    s = Session(net, context=4, max_tokens=60, keep=2)
    restarts = 0
    for t in range(min(len(ep), 14)):
        before = s.re_encodes
        zs = s.stage_logits(t, ep.rtg[t] / trainer.rtg_scale, ep.exec_feat[t], ep.stages(t))
        zl = s.limit_logits(int(ep.target[t]), int(ep.lo[t]), int(ep.hi[t]), ep.limit_ctx[t])
        s.commit(ep.act_extra[t])
        restarts += s.re_encodes - before
        w = nd.build_window(ep, t, 10_000, 60, 16, trainer.rtg_scale, start=s.context_start)
        assert w.start == s.context_start
        b = {k: torch.from_numpy(v) for k, v in nd.collate_windows([w]).items()}
        with torch.no_grad():
            sl, ll = net(b)
        m = len(ep.stages(t))
        np.testing.assert_allclose(zs, sl[-1, :m].double().numpy(), atol=2e-5)
        ok = np.isfinite(zl)
        assert np.array_equal(ok, torch.isfinite(ll[-1]).numpy())
        np.testing.assert_allclose(zl[ok], ll[-1].double().numpy()[ok], atol=2e-5)
    assert restarts >= 3  # the context restarted (first step, then every few steps)


def test_short_training_lowers_the_loss(pool, backbone):
    from schedlab.learn.netllm.data import collate_windows
    from schedlab.learn.netllm.model import losses, to_torch

    tr = _trainer(pool, backbone, updates=15, learning_rate=3e-3, batch_size=8)
    tr._prepare()
    fixed = to_torch(collate_windows(tr._windows(16)))

    def loss():
        tr.net.eval()
        with torch.no_grad():
            a, b, _, _ = losses(tr.net, fixed)
        return float(a + b)

    before = loss()
    for _ in range(3):
        row = tr.iterate()
    assert np.isfinite(row["loss"]) and tr.num_timesteps > 0
    assert loss() < 0.8 * before


def _train_config(pool, backbone, tmp_path, updates=2):
    """One iteration of `schedlab train spark netllm` on the tiny scenario, validated on one seed."""
    from schedlab.learn.train import TrainConfig

    sc_path = tmp_path / "tiny.yaml"
    sc_path.write_text(yaml.safe_dump(SC.model_dump(mode="json")))
    params = {"pool": str(pool), "backbone": backbone, "context": 4, "batch_size": 2, "updates": updates}
    return TrainConfig(
        family="spark", algorithm="netllm", scenario=str(sc_path), iterations=1, val_seeds=[1000], params=params
    )


def test_trained_policy_is_a_checked_deterministic_scheduler_and_resumes(pool, backbone, tmp_path):
    from schedlab.learn.netllm.scheduler import NetLLMScheduler
    from schedlab.learn.train import train

    config = _train_config(pool, backbone, tmp_path)
    out = tmp_path / "out"
    result = train(config, out)
    assert result.best_value is not None
    assert (out / "weights.safetensors").is_file() and (out / "history.csv").is_file()
    from schedlab.learn.policy import read_card, read_tensors

    card = read_card(out, algorithm="netllm")
    names = set(read_tensors(out / "weights.safetensors"))
    assert not any("lora" not in n and n.startswith("lm.") for n in names)  # no frozen backbone tensor
    assert any("lora_A" in n for n in names) and any(n.startswith("decima.") for n in names)
    assert card["architecture"]["network"]["backbone"] == str(__import__("pathlib").Path(backbone).resolve())

    def make():
        return NetLLMScheduler(model=str(out))

    testing.check_trace_ok(make, SC, seeds=(1, 2))
    testing.check_deterministic(make, SC, seeds=(1,))
    # resume goes on from the checkpoint
    config.iterations = 2
    again = train(config, out, resume=True)
    assert again.iterations == 2


def test_cli_errors_are_one_line(pool, backbone, tmp_path):
    runner = CliRunner()
    base = ["train", "spark", "netllm", "--scenario", "spark-synthetic", "--iterations", "1"]
    cases = [
        [*base, "--out", str(tmp_path / "a"), "--pool", str(tmp_path / "nope")],
        [*base, "--out", str(tmp_path / "b")],
        [*base, "--out", str(tmp_path / "c"), "--pool", str(pool), "-p", f"backbone={tmp_path / 'none'}"],
        ["run", "spark-synthetic", "--jobs", "4", "-s", "netllm", "-p", f"model={tmp_path / 'none'}"],
    ]
    for args in cases:
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        lines = [ln for ln in r.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("schedlab: error:"), r.output
    assert str(tmp_path / "none") in r.output


def test_pretrained_false_and_rtg_false_keep_the_shape(pool, backbone):
    a = _trainer(pool, backbone)
    b = _trainer(pool, backbone, pretrained=False, rtg=False)
    sa, sb = a.net.trainable_state(), b.net.trainable_state()
    assert {k: v.shape for k, v in sa.items()} == {k: v.shape for k, v in sb.items()}
    b._prepare()
    w = b._windows(4)
    assert all((x.feat[x.types == nd.RTG] == 0).all() for x in w)


def test_the_shipped_minilm_loads_and_runs():
    from schedlab.learn.netllm.model import build_net, default_backbone

    arch = {
        "pretrained": True,
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_targets": ["query", "value"],
        "lora_dropout": 0.0,
        "dropout": 0.0,
        "time_bucket": 16,
        "time_buckets": 512,
        "max_executors": 5,
    }
    net = build_net(arch, default_backbone())
    assert net.hidden == 384 and net.positions == 512
    assert net.lm.get_base_model().config.num_hidden_layers == 6
    ep = _fake_episode([3, 4, 2])
    b = {k: torch.from_numpy(v) for k, v in nd.collate_windows([nd.build_window(ep, 2, 20, 512, 16, 1.0)]).items()}
    with torch.no_grad():
        sl, ll = net(b)
    assert sl.shape == (3, 16) and ll.shape == (3, 5) and torch.isfinite(sl[:, :2]).all()


def test_schedulers_knob_picks_episodes_by_the_names_pool_info_shows(pool, backbone, tmp_path):
    assert {f.name.split("__seed")[0] for f in _trainer(pool, backbone, schedulers="srwf-tuned").files} == {
        "srwf-tuned"
    }
    assert len(_trainer(pool, backbone, schedulers="fair, srwf").files) == 2
    # A module:Class scheduler's episode file has a file-safe name; the knob takes the real one.
    other = tmp_path / "pool"
    name = "schedlab.families.spark.schedulers:CriticalPathFirst"
    collect(other, SC, [name], [10002], workers=1)
    assert len(_trainer(other, backbone, schedulers=name).files) == 1
    with pytest.raises(Exception, match="no episode of"):
        _trainer(other, backbone, schedulers="fair")


def test_init_warm_starts_from_a_trained_policy_of_the_same_shape(pool, backbone, tmp_path):
    from schedlab.errors import ConfigError
    from schedlab.learn.train import train

    train(_train_config(pool, backbone, tmp_path, updates=3), tmp_path / "first")
    fresh = _trainer(pool, backbone).net.trainable_state()
    warm = _trainer(pool, backbone, init=str(tmp_path / "first")).net.trainable_state()
    from schedlab.learn.policy import read_tensors

    saved = read_tensors(tmp_path / "first" / "weights.safetensors")
    assert all(torch.equal(warm[k], saved[k]) for k in warm)
    assert not all(torch.equal(warm[k], fresh[k]) for k in warm)  # not the fresh initialisation
    with pytest.raises(ConfigError, match="lora_rank"):
        _trainer(pool, backbone, init=str(tmp_path / "first"), lora_rank=4)
    with pytest.raises(ConfigError, match="init: no such directory") as e:
        _trainer(pool, backbone, init=str(tmp_path / "none"))
    assert e.value.source == str(tmp_path / "none")


def test_a_driven_episode_acts_with_the_drivers_actions_and_targets_the_labels(trainer):
    from schedlab.learn.pool import record_episode

    ep = record_episode(SC.model_dump(mode="json"), "srwf", 10000, driver="fair")
    assert (ep["acted"] != ep["actions"]).any(axis=1).any()
    enc = trainer.encoder
    plain, _ = nd.encode_episode(enc, ep["decisions"], ep["actions"], ep["return_to_go"], 2)
    driven, _ = nd.encode_episode(enc, ep["decisions"], ep["actions"], ep["return_to_go"], 2, acted=ep["acted"])
    np.testing.assert_array_equal(driven.target, plain.target)  # targets: the labels
    np.testing.assert_array_equal(driven.limit, plain.limit)
    differ = [t for t in range(len(driven) - 1) if driven.acted[t] != driven.target[t]]
    assert differ
    w = nd.build_window(driven, len(driven) - 1, len(driven), 10**6, 2, 1.0, True)
    acts = w.feat[w.types == nd.ACT]
    sd = driven.feats.shape[1]
    for t in differ:
        # Both the label and the acted stage are among a step's tokens, even under a cap of 2.
        slots = nd.stage_tokens(enc, ep["decisions"][t], 2, (int(ep["actions"][t, 0]), int(ep["acted"][t, 0]))).slots
        assert {int(ep["actions"][t, 0]), int(ep["acted"][t, 0])} <= set(slots.tolist())
        np.testing.assert_array_equal(acts[t, :sd], driven.stages(t)[driven.acted[t]])
        assert not np.array_equal(acts[t, :sd], driven.stages(t)[driven.target[t]])


def test_soft_targets_weigh_the_teachers_options_by_cost_and_keep_its_choice_on_top():
    slots = np.array([0, 2, 3, 5])
    # (slot, limit, cost): slot 3 is a little cheaper than the chosen slot 2; slot 7 is not kept.
    opts = np.array([[2, 3, 100.0], [3, 1, 99.8], [3, 4, 120.0], [0, 2, 101.0], [7, 1, 90.0]])
    p = nd.soft_targets(slots, 1, opts, 0.01)
    assert p.sum() == pytest.approx(1.0) and p[3] == 0.0  # slot 5 was not weighed
    assert p[1] == pytest.approx(p[2]) and p[1] == p.max()  # the choice is not below a cheaper one
    assert p[0] / p[1] == pytest.approx(np.exp(-1.2 / (99.8 * 0.01)), rel=1e-5)
    flat = nd.soft_targets(slots, 1, opts, 1.0)
    assert flat[0] > p[0] and flat[0] < flat[1]
    np.testing.assert_array_equal(nd.soft_targets(slots, 2, np.zeros((0, 3)), 0.01), [0, 0, 1, 0])
    np.testing.assert_array_equal(nd.soft_targets(slots, 2, opts[4:], 0.01), [0, 0, 1, 0])


@pytest.fixture(scope="module")
def rollout_pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("netllm") / "rollout"
    collect(path, SC, ["rollout"], [10000], workers=1)
    return path


def test_the_soft_loss_is_the_hard_one_on_one_hot_targets_and_trains_on_a_rollout_pool(trainer, backbone, rollout_pool):
    from schedlab.errors import ConfigError
    from schedlab.learn.netllm.model import losses, to_torch

    trainer.net.eval()
    b = to_torch(nd.collate_windows(trainer._windows(4)))
    with torch.no_grad():
        hard = losses(trainer.net, b)[0]
        assert losses(trainer.net, b, 1.0)[0] == pytest.approx(float(hard), rel=1e-5)  # no options: one-hot
        sl, _ = trainer.net(b)
        b["soft"] = torch.where(torch.isfinite(sl), 1.0, 0.0)
        b["soft"] = b["soft"] / b["soft"].sum(1, keepdim=True)
        uniform = -(b["soft"] * torch.log_softmax(sl, 1).clamp(min=-1e9)).sum(1).mean()
        assert losses(trainer.net, b, 0.5)[0] == pytest.approx(float(0.5 * hard + 0.5 * uniform), rel=1e-5)
    pool = rollout_pool
    tr = _trainer(pool, backbone, soft=0.5, temperature=0.02)
    out = tr.iterate()
    assert np.isfinite(out["loss"])
    ep = tr.data[0]
    sums = np.add.reduceat(ep.soft, ep.offsets[:-1])
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    assert ((ep.soft > 0) & (ep.soft < 1)).any()  # close calls are shared out
    top = np.maximum.reduceat(ep.soft, ep.offsets[:-1])
    np.testing.assert_array_equal(ep.soft[ep.offsets[:-1] + ep.target], top)  # the label is never below
    for bad in ({"soft": 1.5}, {"temperature": 0.0}, {"override_weight": 0.0}):
        with pytest.raises(ConfigError):
            _trainer(pool, backbone, **bad)


def test_override_weight_weighs_the_steps_where_the_teacher_overrode_its_base(backbone, rollout_pool):
    from schedlab.learn.netllm.model import losses, to_torch
    from schedlab.learn.pool import read_pool

    tr = _trainer(rollout_pool, backbone, override_weight=4.0)
    out = tr.iterate()
    assert np.isfinite(out["loss"])
    (ep,) = read_pool(rollout_pool).episodes()
    # Overrode: the label is not the first option rollout weighed (its base's action).
    want = [len(o) > 0 and tuple(o[0, :2].astype(int)) != tuple(a) for o, a in zip(ep.options, ep.actions)]
    np.testing.assert_array_equal(tr.data[0].overrode, want)
    assert 0 < sum(want) < len(want)
    windows = [nd.build_window(tr.data[0], t, 4, tr.max_tokens, tr.hp["max_stages"], tr.rtg_scale) for t in range(8)]
    b = to_torch(nd.collate_windows(windows))
    b["overrode"] = torch.arange(len(b["target"])) % 3 == 0  # some steps of each kind
    tr.net.eval()
    with torch.no_grad():
        sl, ll = tr.net(b)
        ce = torch.nn.functional.cross_entropy(sl, b["target"], reduction="none")
        w = torch.where(b["overrode"], 4.0, 1.0)
        assert losses(tr.net, b, override_weight=4.0)[0] == pytest.approx(float((ce * w).sum() / w.sum()), rel=1e-5)
        assert losses(tr.net, b, override_weight=1.0)[0] == pytest.approx(float(ce.mean()), rel=1e-5)
        assert losses(tr.net, b, override_weight=4.0)[0] != pytest.approx(float(ce.mean()), rel=1e-3)


def test_teacher_agreement_counts_each_kind_of_decision_and_matches_the_training_accuracy(backbone, rollout_pool, pool):
    from schedlab.learn.netllm.agreement import KINDS, teacher_agreement
    from schedlab.learn.netllm.model import losses, to_torch
    from schedlab.learn.pool import read_pool

    tr = _trainer(rollout_pool, backbone)
    tr.iterate()
    policy = tr.scheduler()
    out = teacher_agreement(policy, read_pool(rollout_pool).episodes())
    steps = tr.data[0]
    assert out["all"]["decisions"] == len(steps) == sum(out[k]["decisions"] for k in KINDS)
    assert out["overrode"]["decisions"] == int(steps.overrode.sum()) > 0
    (ep,) = read_pool(rollout_pool).episodes()
    assert out["single"]["decisions"] == sum(len(o) == 0 for o in ep.options)
    # The same windows scored by the training loss's accuracy.
    ctx, hits = tr.hp["context"], 0.0
    for start in range(0, len(steps), ctx):
        end = min(len(steps), start + ctx) - 1
        w = nd.build_window(steps, end, ctx, tr.max_tokens, tr.hp["max_stages"], tr.rtg_scale, start=start)
        with torch.no_grad():
            hits += float(losses(policy._net, to_torch(nd.collate_windows([w])))[2]) * len(w.target)
    assert out["all"]["stage"] == pytest.approx(hits / len(steps))
    # A pool without the teacher's options: every decision is a single-option one.
    plain = teacher_agreement(policy, read_pool(pool).episodes())
    assert plain["overrode"]["decisions"] == plain["kept"]["decisions"] == 0
    assert plain["single"]["decisions"] == plain["all"]["decisions"] > 0
