"""The core commands: run, compare, check, list."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from schedlab.cli.common import (
    DEFAULT_SCENARIO,
    FLAG_FIELDS,
    ConfigFile,
    DecisionTime,
    Executors,
    Gpus,
    Jobs,
    Mode,
    Requests,
    TpchDir,
    app,
    err,
    fails_cleanly,
    out,
    parse_decision_time,
    parse_decision_times,
    parse_params,
    parse_seeds,
    progress,
    scenario_with_flags,
)
from schedlab.report.format import fmt, pm

# -- run ------------------------------------------------------------------------------------


@app.command()
@fails_cleanly
def run(
    scenario: Annotated[str, typer.Argument(help="Preset name or scenario YAML path.")] = DEFAULT_SCENARIO,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            "-s",
            help="Registered name, module:Class or file.py:Class.",
            show_default="the family's default: fair, ray-like, round-robin",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the workload and durations.")] = 0,
    executors: Executors = None,
    jobs: Jobs = None,
    tpch_dir: TpchDir = None,
    gpus: Gpus = None,
    mode: Mode = None,
    config: ConfigFile = None,
    requests: Requests = None,
    decision_time: DecisionTime = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="A scheduler parameter KEY=VALUE (JSON value), repeatable; e.g. -s decima -p model=DIR.",
            show_default=False,
        ),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Write the trace (.json, or .parquet; for gpu, .json is GSwarm's execution log)."),
    ] = None,
    metrics_json: Annotated[Path | None, typer.Option("--metrics-json", help="Write the metrics as flat JSON.")] = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Check the trace before writing it.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Run one scheduler on one scenario and print its metrics."""
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.runs.traces import save_trace
    from schedlab.sim.io import write_atomic

    dt = parse_decision_time(decision_time) if decision_time is not None else None
    flags = dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests, dt)))
    sc = scenario_with_flags(scenario, flags)
    if scheduler is None:
        from schedlab.schedulers import default_name

        scheduler = default_name(sc.family)
    chosen = _with_params(scheduler, sc.family, parse_params(params or [])) if params else scheduler
    with progress() as bar:
        task = bar.add_task(f"{sc.name} / {scheduler} / seed {seed}", total=100)
        result = simulate(sc, chosen, seed, progress=lambda f: bar.update(task, completed=100 * f))
    if check:
        report = check_trace(result.trace)
        if not report.ok:
            for v in report.violations[:10]:
                err.print(f"schedlab: trace violation: [{v.check}] {v.message}", markup=False)
            raise typer.Exit(1)
    if trace is not None:
        save_trace(result.trace, trace, native=True)
    if metrics_json is not None:
        write_atomic(metrics_json, (json.dumps(result.metrics, indent=2) + "\n").encode())
    if not quiet:
        _metrics_table(f"{sc.name} / {scheduler} / seed {seed}", result.metrics)


def _with_params(name: str, family: str, params: dict[str, Any]):
    """The scheduler ``name`` built with ``params``; a parameter it does not take is a one-line error."""
    import inspect

    from schedlab.errors import ConfigError
    from schedlab.schedulers import make

    try:
        return make(name, family, **params)
    except TypeError as e:
        if "argument" not in str(e):
            raise
        try:
            cls = type(make(name, family))
            known = [p for p in inspect.signature(cls.__init__).parameters if p != "self" and not p.startswith("_")]
        except Exception:  # noqa: BLE001 - only to list the names in the message
            known = []
        what = f"; it takes {', '.join(known)}" if known else ""
        raise ConfigError(f"scheduler {name!r} does not take {', '.join(params)}{what}", field="--param") from None


def _metrics_table(title: str, metrics: dict[str, Any]) -> None:
    from schedlab.metrics.summary import METRIC_INFO

    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("key", style="dim")
    t.add_column("value", justify="right")
    for key, value in metrics.items():
        t.add_row(METRIC_INFO.get(key, (key, True))[0], key, fmt(value))
    out.print(t)


# -- compare --------------------------------------------------------------------------------


@app.command()
@fails_cleanly
def compare(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="Preset names or YAML paths.", show_default=DEFAULT_SCENARIO)
    ] = None,
    schedulers: Annotated[
        str | None,
        typer.Option(
            "--schedulers", "-s", help="Comma-separated names (default: all of the family).", show_default=False
        ),
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds, e.g. 1-10 or 1,2,5.")] = "1-5",
    executors: Executors = None,
    jobs: Jobs = None,
    tpch_dir: TpchDir = None,
    gpus: Gpus = None,
    mode: Mode = None,
    config: ConfigFile = None,
    requests: Requests = None,
    decision_time: Annotated[
        str | None,
        typer.Option(
            "--decision-time",
            help=(
                "Simulated time each scheduling decision costs: off, measured (the wall time of the "
                "scheduler's decide() call; not deterministic) or fixed:<seconds>. Several, "
                "comma-separated (off,fixed:0.05), run every scenario under each; its tables and "
                "rows are then labelled 'NAME (decision time MODE)'. See docs/decision-time.md."
            ),
            show_default="the scenario's decision_time, off unless it sets one",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write runs.csv, summary.json and the traces here.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes.")] = 2,
    report: Annotated[
        bool,
        typer.Option("--report", help="Also write an HTML report, OUT/report.html (OUT defaults to ./results)."),
    ] = False,
) -> None:
    """Run schedulers x seeds on scenarios; print mean and 95% confidence interval per metric."""
    from schedlab.runs.compare import run_grid, summarize_grid

    seed_list = parse_seeds(seeds)
    if report and out_dir is None:
        out_dir = Path("results")
    names = [s.strip() for s in schedulers.split(",")] if schedulers else None
    modes = parse_decision_times(decision_time) if decision_time is not None else [None]
    runs = []
    for name, dt in [(n, dt) for n in scenarios or [DEFAULT_SCENARIO] for dt in modes]:
        flags = dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests, dt)))
        sc = scenario_with_flags(name, flags)
        if len(modes) > 1:
            # Results are grouped by scenario name, so each mode gets its own.
            sc = sc.model_copy(update={"name": f"{sc.name} (decision time {dt})"})
        from schedlab.schedulers import check_name
        from schedlab.schedulers import names as registered

        chosen = names or registered(sc.family)
        for s in chosen:
            check_name(s, sc.family)  # fail before running anything
        runs += [(sc, s, seed) for s in chosen for seed in seed_list]
    with progress() as bar:
        task = bar.add_task("runs", total=len(runs))
        rows = run_grid(
            runs, workers=workers, trace_dir=out_dir / "traces" if out_dir else None, on_done=lambda: bar.advance(task)
        )
    summary = summarize_grid(rows)
    families = {r["scenario"]: r["family"] for r in rows}
    for scenario_name, per_sched in summary.items():
        _compare_table(scenario_name, families[scenario_name], per_sched, len(seed_list))
    if out_dir is not None:
        from schedlab.runs.compare import write_results

        write_results(out_dir, rows, summary)
        out.print(f"results in {out_dir}/ (runs.csv, summary.json, traces/)")
    if report:
        from schedlab.cli.report import write_with_progress

        out.print(f"report in {write_with_progress(out_dir, None)}")


def _compare_table(scenario: str, family: str, per_sched: dict[str, dict[str, tuple[float, float]]], n: int) -> None:
    from schedlab.metrics.summary import METRIC_INFO, table_keys

    keys = table_keys(family)
    cells: dict[str, list[str]] = {}
    for key in keys:
        vals = [(m[key][0], s) for s, m in per_sched.items() if key in m and m[key][0] is not None]
        lower = METRIC_INFO.get(key, (key, True))[1]
        best = (min if lower else max)(vals)[1] if vals else None
        for s, m in per_sched.items():
            mean, half = m.get(key, (None, None))
            text = "-" if mean is None else pm(mean, half) if half and not math.isnan(half) else fmt(mean)
            cells.setdefault(s, []).append(f"[bold green]{text}[/]" if s == best else text)
    t = Table(title=f"{scenario}: mean ±95% CI over {n} seed(s)", header_style="bold")
    t.add_column("scheduler", no_wrap=True)
    for i, key in enumerate(keys):
        # Headers wrap to the width of their values, so that five columns fit 80 characters.
        width = max(8, *(len(Text.from_markup(row[i]).plain) for row in cells.values()))
        header = "\n".join(textwrap.wrap(METRIC_INFO.get(key, (key,))[0], width, break_long_words=False))
        t.add_column(header, justify="right", no_wrap=True)
    for s, row in cells.items():
        t.add_row(s, *row)
    out.print(t)


# -- check ----------------------------------------------------------------------------------


@app.command()
@fails_cleanly
def check(
    trace: Annotated[Path, typer.Argument(help="Trace file (.json or .parquet).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code tells.")] = False,
    save_report: Annotated[Path | None, typer.Option("--save-report", help="Write the report as JSON.")] = None,
) -> None:
    """Prove a trace physically possible. Exit 0 if it is, 1 if not."""
    from schedlab.metrics.checker import check_trace
    from schedlab.runs.traces import load_trace
    from schedlab.sim.io import write_atomic

    report = check_trace(load_trace(trace))
    if save_report is not None:
        write_atomic(save_report, (json.dumps(report.to_dict(), indent=2) + "\n").encode())
    if not quiet:
        if report.ok:
            out.print(f"{trace}: ok ({len(report.checks)} checks passed)")
        else:
            for v in report.violations:
                out.print(f"[{v.check}] {v.message}", markup=False, highlight=False)
            total = sum(report.counts.values())
            out.print(f"{trace}: {total} violation(s) in {sum(1 for c in report.counts.values() if c)} check(s)")
    raise typer.Exit(0 if report.ok else 1)


# -- list -----------------------------------------------------------------------------------


@app.command("list")
@fails_cleanly
def list_(
    what: Annotated[str, typer.Argument(help="scenarios, schedulers or all.")] = "all",
) -> None:
    """List the scenario presets and the schedulers of each family."""
    from schedlab import plugins
    from schedlab.errors import UnknownNameError
    from schedlab.scenarios import load_scenario, preset_names
    from schedlab.schedulers import default_name, specs

    if what not in ("scenarios", "schedulers", "all"):
        raise UnknownNameError(f"cannot list {what!r}; choose scenarios, schedulers or all", field="WHAT")
    if what in ("scenarios", "all"):
        t = Table(title="scenarios", header_style="bold")
        t.add_column("name")
        t.add_column("family")
        t.add_column("description", overflow="fold")
        for name in preset_names():
            sc = load_scenario(name)
            t.add_row(name, sc.family, sc.description)
        out.print(t)
    if what in ("schedulers", "all"):
        t = Table(title="schedulers (* the family's default)", header_style="bold")
        t.add_column("family", no_wrap=True)
        t.add_column("name", no_wrap=True)
        t.add_column("summary (aliases)", overflow="fold")
        for family in plugins.names():
            default = default_name(family)
            for s in specs(family):
                aliases = f" [dim]({', '.join(s.aliases)})[/]" if s.aliases else ""
                t.add_row(family, s.name + (" *" if s.name == default else ""), s.summary + aliases)
        out.print(t)
