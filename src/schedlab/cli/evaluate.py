"""``schedlab evaluate``: schedulers on held-out seeds, paired against a baseline (EVALUATION.md)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from schedlab.cli.common import (
    DecisionTime,
    app,
    err,
    fails_cleanly,
    out,
    parse_decision_time,
    parse_seeds,
    progress,
    scenario_with_flags,
    scheduler_labels,
)


@app.command()
@fails_cleanly
def evaluate(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario YAML path.")],
    schedulers: Annotated[
        str,
        typer.Option(
            "--schedulers",
            "-s",
            help="Comma-separated: registered names, module:Class or file.py:Class.",
            show_default=False,
        ),
    ],
    baseline: Annotated[
        str,
        typer.Option("--baseline", help="The scheduler to compare against; one of --schedulers.", show_default=False),
    ],
    split: Annotated[
        str,
        typer.Option("--split", metavar="test|validation", help="Seeds: test (1-20) or validation (1000-1099)."),
    ] = "test",
    seeds: Annotated[
        str | None, typer.Option("--seeds", help="Override the split's seeds, e.g. 1-5 or 1,2,5.", show_default=False)
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Comma-separated metric keys (default: the family's headline metrics).",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    workers: Annotated[int, typer.Option("--workers", min=1, metavar="N", help="Parallel processes.")] = 2,
    decision_time: DecisionTime = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write evaluation.json and the traces here.", show_default=False)
    ] = None,
) -> None:
    """Each scheduler on the seeds of a split: mean ±95% CI, paired difference to the baseline, verdict.

    "better"/"worse" only when the 95% CI of the paired difference (scheduler - baseline,
    seed by seed) excludes zero, else "tie". Also: decision latency (median, p99; wall clock)
    and a check of every trace (exit 1 listing the violations if one fails).
    """
    from schedlab.runs.evaluate import evaluate as run_evaluation
    from schedlab.runs.evaluate import split_seeds
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    if out_dir is not None:
        check_writable(out_dir, folder=True)  # before the runs
    default_seeds = split_seeds(split)  # an unknown split fails before anything runs
    seed_list = parse_seeds(seeds) if seeds is not None else list(default_seeds)
    names = [s.strip() for s in schedulers.split(",") if s.strip()]
    keys = [k.strip() for k in metrics.split(",") if k.strip()] if metrics else None
    dt = parse_decision_time(decision_time) if decision_time is not None else None
    sc = scenario_with_flags(scenario, {"--decision-time": dt})
    with progress() as bar:
        task = bar.add_task("runs", total=len(names) * len(seed_list))
        result = run_evaluation(
            sc,
            names,
            baseline,
            seeds=seed_list,
            split=split,
            metrics=keys,
            workers=workers,
            trace_dir=out_dir / "traces" if out_dir else None,
            on_done=lambda: bar.advance(task),
        )
    _print(result, custom_seeds=seeds is not None)
    if out_dir is not None:
        write_atomic(out_dir / "evaluation.json", plain_json(result.to_dict()).encode())
        out.print(f"results in {out_dir}/ (evaluation.json, traces/)")
    if not result.ok:
        for v in result.violations:
            err.print(f"schedlab: trace violation: {v}", markup=False, highlight=False, soft_wrap=True)
        bad = sum(not r["trace_ok"] for r in result.rows)
        err.print(f"schedlab: {bad} of {result.traces_checked} trace(s) fail the checker", markup=False)
        raise typer.Exit(1)


def _num(v: float, half: float | None = None, *, signed: bool = False) -> str:
    """``mean±half``, decimals chosen from the larger of the two; ``-`` when undefined."""
    if v is None or not math.isfinite(v):
        return "-"
    size = max(abs(v), abs(half) if half is not None and math.isfinite(half) else 0.0)
    d = 0 if size >= 1000 else 1 if size >= 10 else 2 if size >= 0.1 else 3 if size >= 0.001 else 5
    sign = "+" if signed else ""
    text = f"{v:{sign}.{d}f}"
    if half is not None and math.isfinite(half):
        text += f"±{half:.{d}f}"
    return text


def _print(result, *, custom_seeds: bool) -> None:
    n = len(result.seeds)
    where = "custom seeds" if custom_seeds else f"{result.split} seeds"
    labels = scheduler_labels(list(result.schedulers))
    baseline = labels.get(result.baseline, result.baseline)
    out.print(
        f"[bold]{escape(result.scenario)}[/] ({result.family}): {len(result.schedulers)} scheduler(s) x {n} {where} "
        f"({_seed_text(result.seeds)}); baseline [bold]{escape(baseline)}[/]",
    )
    for m in result.metrics:
        direction = {True: "lower is better", False: "higher is better"}.get(m.lower_is_better, "no better direction")
        t = Table(title=escape(f"{m.label} ({m.key}): {direction}"), header_style="bold")
        t.add_column("scheduler", overflow="fold")
        t.add_column("mean ±95% CI", justify="right", no_wrap=True)
        diff_header = "\n".join(textwrap.wrap(f"minus {baseline}, paired ±95% CI", 20))
        t.add_column(diff_header, justify="right", no_wrap=True)
        t.add_column("verdict", no_wrap=True)
        for s, r in m.per_scheduler.items():
            style = {"better": "[bold green]", "worse": "[bold red]"}.get(r.verdict, "")
            verdict = f"{style}{r.verdict}[/]" if style else r.verdict
            diff = "" if r.verdict == "baseline" else _num(r.diff_mean, r.diff_ci95, signed=True)
            t.add_row(escape(labels.get(s, s)), _num(r.mean, r.ci95), diff, verdict)
        out.print(t)
    t = Table(title="decision latency per decision (wall clock)", header_style="bold")
    t.add_column("scheduler", overflow="fold")
    t.add_column("decisions", justify="right", no_wrap=True)
    t.add_column("median (µs)", justify="right", no_wrap=True)
    t.add_column("p99 (µs)", justify="right", no_wrap=True)
    for s, lat in result.latency.items():
        t.add_row(escape(labels.get(s, s)), str(lat.decisions), _num(lat.median_us), _num(lat.p99_us))
    out.print(t)
    failing = sum(not r["trace_ok"] for r in result.rows)
    status = "all pass" if result.ok else f"{failing} FAIL"
    out.print(f"traces checked: {result.traces_checked}, {status} the checker")


def _seed_text(seeds: list[int]) -> str:
    """``1-20`` for a run of consecutive seeds, else the list (shortened past eight)."""
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])
    text = ",".join(map(str, seeds[:8]))
    return text + (",..." if len(seeds) > 8 else "")
