"""The core commands: run, compare, check, list."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from schedlab.cli.common import (
    DECISION_TIME_METAVAR,
    DEFAULT_SCENARIO,
    FLAG_FIELDS,
    AllMetrics,
    Cell,
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
    metric_tables,
    out,
    parse_decision_time,
    parse_decision_times,
    parse_params,
    parse_seeds,
    progress,
    scenario_with_flags,
    scheduler_labels,
)
from schedlab.report.format import fmt, mean_ci_parts


def _family_defaults() -> str:
    """``spark: fair; gpu: ray-like; ...``: the scheduler each family runs when none is named."""
    from schedlab import plugins

    by_name: dict[str, list[str]] = {}
    try:
        for spec in plugins.specs():
            if spec.default_scheduler:
                by_name.setdefault(spec.default_scheduler, []).append(spec.name)
    except Exception:  # noqa: BLE001 - a broken third-party family must not break --help; it fails when used
        return "the family's default (schedlab list marks it)"
    return "; ".join(f"{', '.join(families)}: {name}" for name, families in by_name.items())


# -- run ------------------------------------------------------------------------------------


@app.command()
@fails_cleanly
def run(
    scenario: Annotated[str, typer.Argument(help="Preset name or YAML path.")] = DEFAULT_SCENARIO,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            "-s",
            metavar="NAME",
            help="Registered name, module:Class, file.py:Class or a trained policy's folder.",
            show_default=_family_defaults(),
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the workload and durations.")] = 0,
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
            metavar="KEY=VALUE",
            help="A scheduler parameter (VALUE read as JSON), repeatable; e.g. -s decima -p model=DIR.",
            show_default=False,
        ),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option("--trace", help="Write the trace (.json, or .parquet; for gpu, .json is GSwarm's execution log)."),
    ] = None,
    metrics_json: Annotated[
        Path | None, typer.Option("--metrics-json", help="Write every metric as flat JSON.")
    ] = None,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Check the trace before writing it.")] = True,
    all_metrics: AllMetrics = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help=(
                "Run the tasks for real: hetero on local worker processes (docs/hetero-live.md); gpu on a "
                "model server (docs/gpu-live.md)."
            ),
        ),
    ] = False,
    simulate_flag: Annotated[
        str | None,
        typer.Option(
            "--simulate",
            metavar="true|false",
            help="GSwarm's flag: true calls real models (the same as --live), false estimates (the default).",
            show_default=False,
        ),
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server-url",
            metavar="URL",
            help="With --live (gpu): an OpenAI-compatible model server (vLLM, llama.cpp, Ollama, TGI).",
            show_default="a built-in server on 127.0.0.1, started and stopped by the run",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            min=1,
            metavar="N",
            help="Run the first N requests (gpu; the same as --jobs N), live or simulated.",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            help="With --live: worker processes allowed, one per node.",
            show_default="one per core",
        ),
    ] = None,
    ray: Annotated[
        bool, typer.Option("--ray", help="With --live: each node a Ray actor pinned by the resource schedlab_node_<i>.")
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", metavar="ADDR", help="With --live: join this Ray cluster (implies --ray)."),
    ] = None,
) -> None:
    """Run one scheduler on one scenario and print its metrics."""
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.runs.traces import save_trace
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    for path in (trace, metrics_json):
        if path is not None:
            check_writable(path)  # before the run, so that no run is spent on an output it cannot write
    from schedlab.errors import ConfigError

    live = _live_flag(live, simulate_flag)
    if not live and (workers is not None or ray or ray_address is not None or server_url is not None):
        field = "--workers" if workers else "--server-url" if server_url is not None else "--ray"
        raise ConfigError("applies to live runs only; add --live", field=field)
    if limit is not None:
        if jobs is not None and jobs != limit:
            raise ConfigError(f"--limit {limit} and --jobs {jobs} disagree; give one", field="--limit")
        jobs = limit
    dt = parse_decision_time(decision_time) if decision_time is not None else None
    flags = dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests, dt)))
    sc = scenario_with_flags(scenario, flags)
    if scheduler is None:
        from schedlab.schedulers import default_name

        scheduler = default_name(sc.family)
    chosen = _with_params(scheduler, sc.family, parse_params(params or [])) if params else scheduler
    what = f"{sc.name} / {scheduler_labels([scheduler])[scheduler]} / seed {seed}"
    with progress(percent=True) as bar:
        # No share is known until the loop first reports (building a large workload takes a
        # while), nor while checking or writing: the bar pulses then.
        task = bar.add_task(f"{what}: starting", total=None)

        def simulated(share: float) -> None:
            bar.update(task, description=f"{what}: simulating", total=1.0, completed=share)

        def then(step: str) -> None:
            nonlocal task
            bar.update(task, visible=False)
            task = bar.add_task(f"{what}: {step}", total=None)

        def ran(share: float) -> None:
            bar.update(task, description=f"{what}: running live", total=1.0, completed=share)

        if live and sc.family == "gpu":
            from schedlab.families.gpu.live.run import run_live as run_gpu_live

            if workers is not None or ray or ray_address is not None:
                raise ConfigError(
                    "a live gpu run sends its nodes to a model server; see --server-url",
                    field="--workers" if workers else "--ray",
                )
            result = run_gpu_live(sc, chosen, seed, server_url=server_url, progress=ran)
        elif live:
            from schedlab.families.hetero.live.run import run_live

            if server_url is not None:
                raise ConfigError("applies to live gpu runs only", field="--server-url")
            result = run_live(sc, chosen, seed, workers=workers, ray=ray, ray_address=ray_address, progress=ran)
        else:
            result = simulate(sc, chosen, seed, progress=simulated)
        report = None
        if check:
            then("checking the trace")
            report = check_trace(result.trace)
        if trace is not None and (report is None or report.ok):
            then("writing the trace")
            save_trace(result.trace, trace, native=True)
    if report is not None and not report.ok:
        for v in report.violations[:10]:
            err.print(f"schedlab: trace violation: [{v.check}] {v.message}", markup=False)
        raise typer.Exit(1)
    if metrics_json is not None:
        write_atomic(metrics_json, plain_json(result.metrics).encode())
    if not quiet:
        _metrics_table(what, result.metrics, sc.family, show_all=all_metrics)


def _live_flag(live: bool, simulate: str | None) -> bool:
    """``--live``, with GSwarm's ``--simulate true|false`` as another way to say it.

    Raises:
        ConfigError: ``--simulate`` is neither true nor false, or says false beside ``--live``.
    """
    from schedlab.errors import ConfigError

    if simulate is None:
        return live
    value = simulate.strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"expected true or false, got {simulate!r}", field="--simulate")
    if value == "false" and live:
        raise ConfigError("--simulate false (estimates) contradicts --live; give one", field="--simulate")
    return live or value == "true"


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


def _metrics_table(title: str, metrics: dict[str, Any], family: str | None = None, *, show_all: bool = False) -> None:
    """One run's metrics, a row each: the family's main ones (its ``run_keys``), or all of them."""
    from schedlab import plugins

    spec = plugins.find(family) if family is not None else None
    keys = list(metrics)
    if spec is not None and spec.run_keys and not show_all:
        keys = [k for k in spec.run_keys if k in metrics]
    t = Table(title=title, header_style="bold")
    # The label may wrap; the key and the value never do.
    t.add_column("metric", overflow="fold")
    t.add_column("key", style="dim", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    for key in keys:
        t.add_row(metric_label(key), key, fmt(metrics[key]))
    out.print(t)
    hidden = len(metrics) - len(keys)
    if hidden:
        out.print(f"[dim]{hidden} more metric(s): --all shows them, --metrics-json FILE writes them.[/]")


def metric_label(key: str) -> str:
    """A metric's table label.

    The one :data:`~schedlab.metrics.summary.METRIC_INFO` gives, else one made from the key,
    its unit suffix in brackets (``gpu0_busy_s`` -> ``gpu0 busy (s)``).
    """
    from schedlab.metrics.summary import METRIC_INFO

    if key in METRIC_INFO:
        return METRIC_INFO[key].label
    for suffix, unit in (("_ms", "ms"), ("_us", "µs"), ("_s", "s")):
        if key.endswith(suffix):
            return f"{key.removesuffix(suffix).replace('_', ' ')} ({unit})"
    return key.replace("_", " ")


# -- compare --------------------------------------------------------------------------------


@app.command()
@fails_cleanly
def compare(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(metavar="SCENARIOS", help="Presets or YAML files.", show_default=DEFAULT_SCENARIO),
    ] = None,
    schedulers: Annotated[
        str | None,
        typer.Option(
            "--schedulers",
            "-s",
            metavar="NAMES",
            help="Comma-separated names (default: all of the family that need no optional package).",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", metavar="SEEDS", help="Seeds, e.g. 1-10 or 1,2,5.")] = "1-5",
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
            metavar=DECISION_TIME_METAVAR,
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
    workers: Annotated[int, typer.Option("--workers", min=1, metavar="N", help="Parallel processes.")] = 2,
    report: Annotated[
        bool,
        typer.Option("--report", help="Also write an HTML report, OUT/report.html (OUT defaults to ./results)."),
    ] = False,
    metrics_json: Annotated[
        Path | None,
        typer.Option("--metrics-json", help="Write every metric's mean and 95% CI half-width as JSON."),
    ] = None,
    all_metrics: AllMetrics = False,
) -> None:
    """Run schedulers x seeds on scenarios; print mean and 95% confidence interval per metric."""
    from schedlab.runs.compare import run_grid, summarize_grid
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    seed_list = parse_seeds(seeds)
    if report and out_dir is None:
        out_dir = Path("results")
    # Before the runs, so that none is spent on an output that cannot be written.
    if metrics_json is not None:
        check_writable(metrics_json)
    if out_dir is not None:
        check_writable(out_dir, folder=True)
    names = [s.strip() for s in schedulers.split(",")] if schedulers else None
    modes = parse_decision_times(decision_time) if decision_time is not None else [None]
    runs = []
    for name, dt in [(n, dt) for n in scenarios or [DEFAULT_SCENARIO] for dt in modes]:
        flags = dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests, dt)))
        sc = scenario_with_flags(name, flags)
        if len(modes) > 1:
            # Results are grouped by scenario name, so each mode gets its own.
            sc = sc.model_copy(update={"name": f"{sc.name} (decision time {dt})"})
        from schedlab.schedulers import check_name, default_names

        chosen = names or default_names(sc.family)
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
    notes = []
    for scenario_name, per_sched in summary.items():
        scenario_rows = [r for r in rows if r["scenario"] == scenario_name]
        tables, note = compare_tables(
            scenario_name, families[scenario_name], per_sched, scenario_rows, width=out.width, show_all=all_metrics
        )
        for t in tables:
            out.print(t)
        notes.append(note)
    # One note under all the tables: the longest says the most (a one-seed table has no test).
    out.print(max(notes, key=len), style="dim", markup=False, highlight=False)
    if metrics_json is not None:
        doc = {
            sc: {s: {k: {"mean": m, "ci95": h} for k, (m, h) in per.items()} for s, per in scheds.items()}
            for sc, scheds in summary.items()
        }
        write_atomic(metrics_json, plain_json(doc).encode())
    if out_dir is not None:
        from schedlab.runs.compare import write_results

        write_results(out_dir, rows, summary)
        out.print(f"results in {out_dir}/ (runs.csv, summary.json, traces/)")
    if report:
        from schedlab.cli.report import write_with_progress

        out.print(f"report in {write_with_progress(out_dir, None)}")


def compare_tables(
    scenario: str,
    family: str,
    per_sched: dict[str, dict[str, tuple[float | None, float | None]]],
    rows: list[dict[str, Any]],
    *,
    width: int,
    show_all: bool = False,
) -> tuple[list[Table], str]:
    """The tables of one scenario's comparison, fitted to ``width`` characters, and a note on them.

    A cell is bold only when :func:`schedlab.metrics.ranking.crowned` finds its scheduler better
    than the runner-up by a paired test over the seeds; the note names that test.

    Args:
        scenario: The scenario's name (the title).
        family: Its family, whose ``table_keys`` are the columns unless ``show_all``.
        per_sched: Scheduler -> metric -> (mean, 95% CI half-width), as ``summarize_grid`` gives.
        rows: The runs behind it, one per scheduler and seed (for the paired test).
        width: Characters a line may take.
        show_all: Every metric the runs report, not only the family's main ones.
    """
    from schedlab.metrics.ranking import TEST_DESCRIPTION, crowned, per_seed
    from schedlab.metrics.summary import metric_info, table_keys

    present = list(dict.fromkeys(k for m in per_sched.values() for k in m))
    keys = present if show_all else [k for k in table_keys(family) if k in present]
    labels = scheduler_labels(list(per_sched))
    seeds = len({r["seed"] for r in rows})
    crowns = {k: crowned(per_seed(rows, k), metric_info(k).direction) for k in keys}
    cells: dict[str, list[Cell]] = {labels[s]: [] for s in per_sched}
    for s, m in per_sched.items():
        for key in keys:
            mean, ci = mean_ci_parts(*m.get(key, (None, None)))
            crown = crowns[key]
            cells[labels[s]].append(Cell(mean, ci, bold=crown is not None and crown.scheduler == s))
    # A no-break space keeps the arrow on the line of the label's last word.
    arrows = {"lower": "\u00a0↓", "higher": "\u00a0↑", None: ""}
    headers = [metric_label(k) + arrows[metric_info(k).direction] for k in keys]
    title = f"{scenario}: mean ±95% CI over {seeds} seed(s)"
    tables = metric_tables(title, "scheduler", cells, headers, width)
    note = "↓ lower is better, ↑ higher is better."
    if seeds > 1 and len(per_sched) > 1:
        note += f" Bold marks the {TEST_DESCRIPTION}."
    return tables, note


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
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    if save_report is not None:
        check_writable(save_report)  # before reading and checking a trace that may be large
    report = check_trace(load_trace(trace))
    if save_report is not None:
        write_atomic(save_report, plain_json(report.to_dict()).encode())
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
