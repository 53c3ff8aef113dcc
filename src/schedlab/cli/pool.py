"""``schedlab pool``: experience pools of spark decisions, collected from any scheduler."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import Executors, Jobs, TpchDir, app, fails_cleanly, out, parse_seeds, progress

pool_app = typer.Typer(
    help="Experience pools: every decision of spark episodes, for offline learning (docs/pool.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(pool_app, name="pool")


@pool_app.command("collect")
@fails_cleanly
def collect(
    out_dir: Annotated[Path, typer.Option("--out", help="Pool folder (created, or added to).")],
    scheduler: Annotated[
        str,
        typer.Option(
            "--scheduler",
            "-s",
            help="Comma-separated spark schedulers: names, module:Class paths or policy folders.",
        ),
    ] = "decima,fair,srwf",
    seeds: Annotated[str, typer.Option("--seeds", help="Training seeds (10000 and up), e.g. 10000-10049.")] = (
        "10000-10019"
    ),
    scenario: Annotated[str, typer.Option("--scenario", help="Spark preset name or YAML path.")] = "spark-tpch",
    executors: Executors = None,
    jobs: Jobs = None,
    tpch_dir: TpchDir = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, metavar="N", help="Parallel processes.", show_default="all cores"),
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="Run the episodes as Ray tasks (ray.init() finds the cluster).")
    ] = False,
    driver: Annotated[
        str | None,
        typer.Option(
            "--driver",
            help="A spark scheduler that acts while the --scheduler ones only label its decisions "
            "(DAgger); stored as SCHEDULER@DRIVER.",
        ),
    ] = None,
) -> None:
    """Record every decision of each scheduler on each seed into a pool (Parquet, one file per episode).

    Episodes already in the pool are skipped, so the same command resumes an interrupted
    collection, and a later one with more schedulers or seeds adds to it. With --driver, the
    driver runs each episode and the schedulers label the decision points it reaches.
    """
    from schedlab.cli.common import scenario_with_flags
    from schedlab.learn.pool import collect as collect_pool

    sc = scenario_with_flags(scenario, {"--executors": executors, "--jobs": jobs, "--tpch-dir": tpch_dir})
    names = [s.strip() for s in scheduler.split(",") if s.strip()]
    seed_list = parse_seeds(seeds)
    n = len(names) * len(seed_list)
    with progress() as bar:
        task = bar.add_task("collecting episodes", total=n)
        got = collect_pool(
            out_dir,
            sc,
            names,
            seed_list,
            workers=workers or os.cpu_count() or 1,
            ray=ray,
            driver=driver,
            on_done=lambda r: bar.advance(task),
        )
    steps = sum(r["steps"] for r in got)
    agree = f", the driver agreeing with {sum(r['agree'] for r in got) / steps:.1%}" if driver and steps else ""
    out.print(
        f"{out_dir}: {len(got)} episode(s) collected now ({steps} decisions{agree}), {n - len(got)} already held",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


@pool_app.command("info")
@fails_cleanly
def info(pool: Annotated[Path, typer.Argument(help="Pool folder.")]) -> None:
    """Summarise a pool: episodes, decisions, average JCT and episode returns per scheduler."""
    from rich.table import Table

    from schedlab.learn.pool import pool_info

    s = pool_info(pool)
    t = Table(
        title=f"{s['path']}: {s['episodes']} episodes, {s['steps']} decisions", header_style="bold", show_edge=False
    )
    longest = max((len(n) for n in s["schedulers"]), default=9)
    t.add_column("scheduler", overflow="fold", min_width=min(longest, 12))
    driven = any(math.isfinite(r["agree"]) for r in s["schedulers"].values())
    for col in ("episodes", "steps", "JCT s", "return", "min", "max", *(("agree",) if driven else ())):
        t.add_column(col, justify="right", no_wrap=True)

    def f(v: float) -> str:
        return "-" if not math.isfinite(v) else f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"

    for name, r in s["schedulers"].items():
        t.add_row(
            name,
            str(r["episodes"]),
            str(r["steps"]),
            f(r["avg_jct_s"]),
            f(r["return_mean"]),
            f(r["return_min"]),
            f(r["return_max"]),
            *((f"{r['agree']:.1%}" if math.isfinite(r["agree"]) else "-",) if driven else ()),
        )
    out.print(t)
    out.print(
        "JCT: average job completion time. Return: an episode's summed rewards, minus its job-seconds "
        "(mean, min and max over the episodes)."
        + (" Agree: the driver's decisions that match the labels." if driven else ""),
        highlight=False,
    )
