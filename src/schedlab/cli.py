"""The ``schedlab`` command line: run, compare, check, list.

Bad input (unknown names, malformed files, impossible clusters) ends with one line on stderr
naming the file, the field and the problem, and exit code 2; no output file is left behind
half-written.
"""

from __future__ import annotations

import functools
import json
import math
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from schedlab.errors import SchedlabError

app = typer.Typer(
    name="schedlab",
    help="Simulate, compare and check schedulers for heterogeneous distributed compute.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DEFAULT_SCENARIO = "spark-synthetic"


def main() -> None:
    """Entry point of the console script."""
    app()


def _fails_cleanly(fn):
    """Turn a SchedlabError into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SchedlabError as e:
            err.print(f"schedlab: error: {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


# -- options shared by run and compare ------------------------------------------------------

Executors = Annotated[int | None, typer.Option("--executors", min=1, help="Override the number of executors.")]
Jobs = Annotated[int | None, typer.Option("--jobs", min=1, help="Override the number of jobs.")]
TpchDir = Annotated[
    Path | None,
    typer.Option("--tpch-dir", help="TPC-H profile directory (default: $SCHEDLAB_TPCH_DIR).", show_default=False),
]
Gpus = Annotated[int | None, typer.Option("--gpus", min=1, help="Override the number of GPUs (gpu).")]
Mode = Annotated[str | None, typer.Option("--mode", help="Arrivals: offline (all at t=0) or online (gpu).")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="System config, YAML or JSON (gpu).")]
Requests = Annotated[Path | None, typer.Option("--requests", help="Requests file, YAML or JSON (gpu).")]


#: Command-line flags that override a scenario field, and the field they set (in the order
#: ``run`` and ``compare`` pass their values).
FLAG_FIELDS = {
    "--executors": "cluster.executors",
    "--gpus": "cluster.gpus",
    "--jobs": "workload.jobs",
    "--tpch-dir": "workload.tpch_dir",
    "--mode": "workload.mode",
    "--config": "workload.config",
    "--requests": "workload.requests",
}


def _scenario(name: str, flags: dict[str, Any]):
    """Load a scenario and apply the flags given; a flag the scenario has no field for is an error."""
    from schedlab.errors import ConfigError
    from schedlab.scenarios import load_scenario

    given = {flag: v for flag, v in flags.items() if v is not None}
    if not given:
        return load_scenario(name)
    base = load_scenario(name)
    overrides = {}
    for flag, value in given.items():
        dotted = FLAG_FIELDS[flag]
        *path, last = dotted.split(".")
        node = base
        for part in path:
            node = getattr(node, part, None)
        if node is None or last not in type(node).model_fields:
            raise ConfigError(f"scenario {base.name!r} has no setting {dotted}", field=flag)
        overrides[dotted] = str(value) if isinstance(value, Path) else value
    return load_scenario(name, overrides)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


# -- run ------------------------------------------------------------------------------------


@app.command()
@_fails_cleanly
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
    from schedlab.sim.simulator import simulate
    from schedlab.sim.trace import write_atomic

    sc = _scenario(scenario, dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests))))
    if scheduler is None:
        from schedlab.schedulers import default_name

        scheduler = default_name(sc.family)
    with _progress() as bar:
        task = bar.add_task(f"{sc.name} / {scheduler} / seed {seed}", total=100)
        result = simulate(sc, scheduler, seed, progress=lambda f: bar.update(task, completed=100 * f))
    if check:
        report = check_trace(result.trace)
        if not report.ok:
            for v in report.violations[:10]:
                err.print(f"schedlab: trace violation: [{v.check}] {v.message}", markup=False)
            raise typer.Exit(1)
    if trace is not None:
        result.trace.save(trace, native=True)
    if metrics_json is not None:
        write_atomic(metrics_json, (json.dumps(result.metrics, indent=2) + "\n").encode())
    if not quiet:
        _metrics_table(f"{sc.name} / {scheduler} / seed {seed}", result.metrics)


def _metrics_table(title: str, metrics: dict[str, Any]) -> None:
    from schedlab.metrics.summary import METRIC_INFO

    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("metric")
    t.add_column("key", style="dim")
    t.add_column("value", justify="right")
    for key, value in metrics.items():
        t.add_row(METRIC_INFO.get(key, (key, True))[0], key, _fmt(value))
    out.print(t)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-2):
            return f"{v:.3g}"
        if abs(v) >= 1000:
            return f"{v:.0f}"
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return str(v)


# -- compare --------------------------------------------------------------------------------


def _seeds(text: str) -> list[int]:
    seeds: list[int] = []
    try:
        for part in text.split(","):
            a, sep, b = part.strip().partition("-")
            seeds += list(range(int(a), int(b) + 1)) if sep else [int(a)]
    except ValueError:
        from schedlab.errors import ConfigError

        raise ConfigError(f"expected seeds like 1-10 or 1,2,5, got {text!r}", field="--seeds") from None
    return seeds


@app.command()
@_fails_cleanly
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
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write runs.csv, summary.json and the traces here.")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel processes.")] = 2,
) -> None:
    """Run schedulers x seeds on scenarios; print mean and 95% confidence interval per metric."""
    from schedlab.compare import run_grid, summarize_grid

    seed_list = _seeds(seeds)
    names = [s.strip() for s in schedulers.split(",")] if schedulers else None
    runs = []
    for name in scenarios or [DEFAULT_SCENARIO]:
        sc = _scenario(name, dict(zip(FLAG_FIELDS, (executors, gpus, jobs, tpch_dir, mode, config, requests))))
        from schedlab.schedulers import names as registered
        from schedlab.schedulers import spec

        chosen = names or registered(sc.family)
        for s in chosen:
            if ":" not in s:
                spec(s, sc.family)  # fail before running anything
        runs += [(sc, s, seed) for s in chosen for seed in seed_list]
    with _progress() as bar:
        task = bar.add_task("runs", total=len(runs))
        rows = run_grid(
            runs, workers=workers, trace_dir=out_dir / "traces" if out_dir else None, on_done=lambda: bar.advance(task)
        )
    summary = summarize_grid(rows)
    families = {r["scenario"]: r["family"] for r in rows}
    for scenario_name, per_sched in summary.items():
        _compare_table(scenario_name, families[scenario_name], per_sched, len(seed_list))
    if out_dir is not None:
        from schedlab.compare import write_results

        write_results(out_dir, rows, summary)
        out.print(f"results in {out_dir}/ (runs.csv, summary.json, traces/)")


def _compare_table(scenario: str, family: str, per_sched: dict[str, dict[str, tuple[float, float]]], n: int) -> None:
    from schedlab.metrics.summary import METRIC_INFO, TABLE_KEYS

    keys = TABLE_KEYS.get(family, TABLE_KEYS["spark"])
    cells: dict[str, list[str]] = {}
    for key in keys:
        vals = [(m[key][0], s) for s, m in per_sched.items() if key in m and m[key][0] is not None]
        lower = METRIC_INFO.get(key, (key, True))[1]
        best = (min if lower else max)(vals)[1] if vals else None
        for s, m in per_sched.items():
            mean, half = m.get(key, (None, None))
            text = "-" if mean is None else _pm(mean, half) if half and not math.isnan(half) else _fmt(mean)
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


def _pm(mean: float, half: float) -> str:
    """``mean±half`` with the same number of decimals on both sides."""
    m = abs(mean)
    decimals = 0 if m >= 1000 else 1 if m >= 10 else 2 if m >= 0.1 else 3
    return f"{mean:.{decimals}f}±{half:.{decimals}f}"


# -- check ----------------------------------------------------------------------------------


@app.command()
@_fails_cleanly
def check(
    trace: Annotated[Path, typer.Argument(help="Trace file (.json or .parquet).")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing; only the exit code tells.")] = False,
    save_report: Annotated[Path | None, typer.Option("--save-report", help="Write the report as JSON.")] = None,
) -> None:
    """Prove a trace physically possible. Exit 0 if it is, 1 if not."""
    from schedlab.metrics.checker import check_trace
    from schedlab.sim.trace import load_trace, write_atomic

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
@_fails_cleanly
def list_(
    what: Annotated[str, typer.Argument(help="scenarios, schedulers or all.")] = "all",
) -> None:
    """List the scenario presets and the schedulers of each family."""
    from schedlab.errors import UnknownNameError
    from schedlab.scenarios import FAMILIES, load_scenario, preset_names
    from schedlab.schedulers import specs

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
        for family in FAMILIES:
            for s in specs(family):
                aliases = f" [dim]({', '.join(s.aliases)})[/]" if s.aliases else ""
                t.add_row(family, s.name + (" *" if s.default else ""), s.summary + aliases)
        out.print(t)


# -- edge -----------------------------------------------------------------------------------

edge_app = typer.Typer(
    help="Edge family tools: node logs for forecasters.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(edge_app, name="edge")


@edge_app.command("gen-logs")
@_fails_cleanly
def edge_gen_logs(
    num_nodes: Annotated[int, typer.Option("--num-nodes", help="Number of nodes.")] = 10,
    steps: Annotated[int, typer.Option("--steps", help="Samples per node.")] = 1000,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples (sets timestamps).")] = 0.02,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the node dynamics.")] = 42,
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path("node_logs.csv"),
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the node dynamics.")] = "edge",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Write node logs (timestamp,node_id,cpu,mem,delay,load) of the background node dynamics."""
    import numpy as np

    from schedlab.errors import ConfigError
    from schedlab.scenarios import load_scenario
    from schedlab.workloads.edge_nodes import NodeParams, generate_node_logs, write_node_logs

    for flag, value in (("--num-nodes", num_nodes), ("--steps", steps)):
        if value < 1:
            raise ConfigError(f"must be at least 1, got {value}", field=flag)
    if not (interval > 0 and math.isfinite(interval)):
        raise ConfigError(f"must be a positive number of seconds, got {interval}", field="--interval")
    sc = load_scenario(scenario)
    if sc.family != "edge":
        raise ConfigError(f"scenario {sc.name!r} is of family {sc.family!r}, not edge", field="--scenario")
    params = NodeParams.from_config(sc.nodes)
    with _progress() as bar:
        task = bar.add_task(f"{num_nodes} nodes x {steps} steps", total=steps)
        log = generate_node_logs(
            num_nodes,
            steps,
            interval,
            params,
            np.random.default_rng(seed),
            progress=lambda k: bar.update(task, completed=k),
        )
    write_node_logs(out_file, log)
    if not quiet:
        out.print(f"wrote {out_file} ({num_nodes} nodes x {steps} steps, every {interval} s)")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
