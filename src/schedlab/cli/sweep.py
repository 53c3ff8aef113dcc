"""The ``sweep`` command: run an experiment suite, resumably, and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from schedlab.cli.common import app, err, fails_cleanly, out, progress
from schedlab.report.format import mean_ci_parts


@app.command()
@fails_cleanly
def sweep(
    suite_file: Annotated[Path, typer.Argument(metavar="SUITE.yaml", help="Suite file (see docs/sweep.md).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder.", show_default="sweeps/<suite name>"),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, metavar="N", help="Parallel processes (Ray: CPUs).")] = 2,
    use_ray: Annotated[bool, typer.Option("--ray", help="Run the runs as tasks on a local Ray.")] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help="Run on an existing Ray cluster (implies --ray).", show_default=False),
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore earlier results in the output folder.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print no table.")] = False,
) -> None:
    """Run a suite's grid of scenarios x params x schedulers x seeds; skip the runs already done.

    Writes runs.parquet, runs.csv and summary.json. Finished runs are kept in runs.jsonl as
    they finish, so an interrupted sweep resumes where it stopped when run again. Exit 1 if a
    trace failed the checker.
    """
    from schedlab.runs.sweep import SweepInterrupted, load_suite, run_sweep
    from schedlab.sim.io import check_writable

    suite = load_suite(suite_file)
    folder = out_dir if out_dir is not None else Path("sweeps") / suite.name
    check_writable(folder, folder=True)  # before the runs
    try:
        with progress() as bar:
            task = bar.add_task(f"sweep {suite.name}", total=None)
            result = run_sweep(
                suite,
                folder,
                source=str(suite_file),
                base_dir=suite_file.parent,
                workers=workers,
                use_ray=use_ray,
                ray_address=ray_address,
                fresh=fresh,
                on_progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except KeyboardInterrupt as e:
        saved = str(e) if isinstance(e, SweepInterrupted) else "nothing was saved"
        err.print(
            f"schedlab: interrupted; {saved}; run the same command again to resume",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if not quiet:
        _summary_tables(suite.name, result.summary)
    bad = result.failed_checks
    checks = "all traces ok" if not bad else f"{bad} trace(s) failed the checker (trace_ok is false)"
    out.print(
        f"{len(result.rows)} runs ({result.ran} run now, {result.reused} reused); {checks}",
        markup=False,
        highlight=False,
    )
    out.print(f"results in {folder}/: runs.parquet, runs.csv, summary.json", markup=False, highlight=False)
    if bad:
        raise typer.Exit(1)


def _summary_tables(name: str, groups: list[dict[str, Any]]) -> None:
    """One table per family: a row per group, the family's two main metrics as mean ±95% CI."""
    from schedlab.cli.core import metric_label
    from schedlab.metrics.summary import table_keys

    families = list(dict.fromkeys(g["family"] for g in groups))
    for family in families:
        rows = [g for g in groups if g["family"] == family]
        keys = table_keys(family)[:2]
        # Only the parameters that vary within the table; a fixed one is in the suite file.
        varying = [k for k in dict.fromkeys(k for g in rows for k in g["params"]) if _varies(rows, "params", k)]
        has_params = bool(varying)
        seeds = sorted({g["runs"] for g in rows})
        n = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
        t = Table(title=f"{name} ({family}): mean ±95% CI over {n} seed(s)", header_style="bold")
        t.add_column("scenario", overflow="fold")
        if has_params:
            t.add_column("params", overflow="fold")
        t.add_column("scheduler", overflow="fold")
        for key in keys:
            t.add_column(metric_label(key), justify="right", no_wrap=True)
        for g in rows:
            cells = [g["scenario"]]
            if has_params:
                cells.append(_compact({k: v for k, v in g["params"].items() if k in varying}))
            sched_params = {k: v for k, v in g["scheduler_params"].items() if _varies(rows, "scheduler_params", k)}
            sched = " ".join([g["scheduler"], _compact(sched_params)]).strip()
            cells.append(sched)
            for key in keys:
                m = g["metrics"].get(key) or {}
                cells.append("".join(mean_ci_parts(m.get("mean"), m.get("ci95"))))
            t.add_row(*cells)
        out.print(t)


def _varies(groups: list[dict[str, Any]], part: str, key: str) -> bool:
    return len({repr(g[part].get(key)) for g in groups}) > 1


def _compact(params: dict[str, Any]) -> str:
    """``jobs=5 executors=8``: the last part of each dotted field, unless two fields share it."""
    lasts = [k.rsplit(".", 1)[-1] for k in params]
    names = [last if lasts.count(last) == 1 else k for k, last in zip(params, lasts)]
    return " ".join(f"{n}={v}" for n, v in zip(names, params.values()))
