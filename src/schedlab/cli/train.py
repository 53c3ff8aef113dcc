"""``schedlab train FAMILY ALGORITHM``: train a learned scheduler, validate it, keep the best."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import app, err, fails_cleanly, out, parse_params, parse_seeds, progress

_ALGORITHM_HELP = (
    "ppo (MaskablePPO, sb3-contrib) or dqn (stable-baselines3) on the family's environment; "
    "decima (spark); gnn-cost (multiproc); netllm (spark, offline from --pool)."
)


def _family_help() -> str:
    from schedlab import plugins

    try:
        return f"Family to train on: {', '.join(plugins.names())}."
    except Exception:  # noqa: BLE001 - a broken third-party family must not break --help; it fails when used
        return "Family to train on (schedlab list names them)."


@app.command()
@fails_cleanly
def train(
    family: Annotated[str, typer.Argument(help=_family_help())],
    algorithm: Annotated[str, typer.Argument(help=_ALGORITHM_HELP)],
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario", help="Training scenario: preset name or YAML path.", show_default="the family's preset"
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output directory: the best policy, history, curve, checkpoints.")
    ] = Path("runs/train"),
    iterations: Annotated[
        int, typer.Option("--iterations", min=1, metavar="N", help="Training iterations in all.")
    ] = 50,
    steps: Annotated[
        int, typer.Option("--steps", min=1, metavar="N", help="Environment steps per iteration, over all workers.")
    ] = 2048,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, metavar="N", help="Parallel rollout processes.", show_default="all cores"),
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the rollout workers on Ray (ray.init() finds the cluster).")
    ] = False,
    train_seeds: Annotated[
        str, typer.Option("--train-seeds", help="Training episode seeds, LO-HI (10000 and up).")
    ] = "10000-19999",
    val_seeds: Annotated[
        str, typer.Option("--val-seeds", help="Validation seeds (within 1000-1099), e.g. 1000-1004.")
    ] = "1000-1004",
    val_every: Annotated[int, typer.Option("--val-every", min=1, metavar="N", help="Validate every N iterations.")] = 5,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=1, metavar="N", help="Save checkpoints/last every N iterations.")
    ] = 5,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Validation metric key.", show_default="the one the env's reward sums to"),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Algorithm knob (VALUE read as JSON), repeatable; env.KEY sets an env option.",
        ),
    ] = None,
    pool: Annotated[
        Path | None,
        typer.Option(
            "--pool", help="Experience pool to learn from (offline algorithms: netllm); same as -p pool=POOL."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seeds the learner and the workers.")] = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Carry on from OUT/checkpoints/last.")] = False,
) -> None:
    """Train ALGORITHM on FAMILY; OUT becomes a scheduler: `schedlab run ... -s OUT`.

    Validation runs the current policy on the validation seeds every --val-every iterations;
    the best policy by that metric is written to OUT (weights.safetensors + policy.json).
    OUT/history.csv and OUT/learning_curve.png follow the run. Ctrl-C saves a checkpoint and
    exits 130; --resume goes on from it.
    """
    import os

    from schedlab import plugins
    from schedlab.learn.train import TrainConfig
    from schedlab.learn.train import train as run_training
    from schedlab.sim.io import check_writable

    check_writable(out_dir, folder=True)  # before the training, not after its first iteration
    spec = plugins.get(family)
    chosen = scenario
    if chosen is None:
        presets = spec.preset_names()
        chosen = family if family in presets else presets[0]
    lo_hi = _seed_range(train_seeds)
    config = TrainConfig(
        family=family,
        algorithm=algorithm,
        scenario=chosen,
        iterations=iterations,
        steps=steps,
        workers=workers or os.cpu_count() or 1,
        seed=seed,
        train_seeds=lo_hi,
        val_seeds=parse_seeds(val_seeds),
        val_every=val_every,
        checkpoint_every=checkpoint_every,
        metric=metric,
        params={**parse_params(params or []), **({"pool": str(pool)} if pool is not None else {})},
        ray=ray,
        command=shlex.join(["schedlab", *sys.argv[1:]]),
    )
    with progress() as bar:
        task = bar.add_task("train", total=iterations)

        def on_iteration(row: dict) -> None:
            shown = f" · val {row['val_metric']:.4g}" if "val_metric" in row else ""
            bar.update(task, completed=row["iteration"], description=f"train{shown}")

        try:
            result = run_training(config, out_dir, resume=resume, on_iteration=on_iteration)
        except KeyboardInterrupt:
            err.print(f"schedlab: interrupted; checkpoint saved in {out_dir}/checkpoints/last (--resume goes on)")
            raise typer.Exit(130) from None
    if result.best_value is None:
        best = "no validation yet"
    else:
        ci = f" ± {result.best_ci95:.2g}" if result.best_ci95 is not None else ""
        best = f"best {result.metric} {result.best_value:.4g}{ci} at iteration {result.best_iteration}"

    out.print(f"{family} {algorithm}: {result.iterations} iterations, {result.steps} steps; {best}")
    out.print(f"policy: {out_dir} (use -s {out_dir if '/' in str(out_dir) else './' + str(out_dir)})")


def _seed_range(text: str) -> tuple[int, int]:
    from schedlab.errors import ConfigError

    lo, sep, hi = text.partition("-")
    try:
        pair = (int(lo), int(hi)) if sep else (int(lo), int(lo))
    except ValueError:
        raise ConfigError(f"expected LO-HI, got {text!r}", field="--train-seeds") from None
    return pair
