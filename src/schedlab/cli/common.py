"""What every ``schedlab`` command shares: the app, consoles, clean failure, progress bars, flags."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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


def _print_version(value: bool) -> None:
    if value:
        import schedlab

        out.print(f"schedlab {schedlab.__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Simulate, compare and check schedulers for heterogeneous distributed compute."""


DEFAULT_SCENARIO = "spark-synthetic"


def fails_cleanly(fn):
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
Jobs = Annotated[
    int | None,
    typer.Option("--jobs", min=1, help="Override the number of jobs (workload.jobs: requests for gpu and edge)."),
]
TpchDir = Annotated[
    Path | None,
    typer.Option("--tpch-dir", help="TPC-H profile directory (default: $SCHEDLAB_TPCH_DIR).", show_default=False),
]
Gpus = Annotated[int | None, typer.Option("--gpus", min=1, help="Override the number of GPUs (gpu).")]
Mode = Annotated[str | None, typer.Option("--mode", help="Arrivals: offline (all at t=0) or online (gpu).")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="System config, YAML or JSON (gpu).")]
Requests = Annotated[Path | None, typer.Option("--requests", help="Requests file, YAML or JSON (gpu).")]
DecisionTime = Annotated[
    str | None,
    typer.Option(
        "--decision-time",
        help=(
            "Simulated time each scheduling decision costs: off, measured (the wall time of the "
            "scheduler's decide() call; not deterministic) or fixed:<seconds>. See docs/decision-time.md."
        ),
        show_default="the scenario's decision_time, off unless it sets one",
    ),
]


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
    "--decision-time": "decision_time",
}


def scenario_with_flags(name: str, flags: dict[str, Any]):
    """Load a scenario and apply the flags given; a flag the scenario has no field for is an error.

    A scenario file using deprecated field names loads, with one ``schedlab: warning:`` line on
    stderr per old name (Python hides a library's ``DeprecationWarning`` from a command's user).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        sc = _scenario_with_flags(name, flags)
    for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)):
        err.print(f"schedlab: warning: {message}", markup=False, highlight=False, soft_wrap=True)
    for w in caught:
        if not issubclass(w.category, DeprecationWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return sc


def _scenario_with_flags(name: str, flags: dict[str, Any]):
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


def progress() -> Progress:
    """A progress bar on stderr that vanishes when done and stays silent off a terminal."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


# -- parsing -------------------------------------------------------------------------------


def parse_decision_time(text: str) -> str:
    """One ``--decision-time`` value, checked and written the way the scenario keeps it."""
    from schedlab.errors import ConfigError
    from schedlab.sim.decision_time import parse_decision_time as parse

    try:
        return str(parse(text))
    except ValueError as e:
        raise ConfigError(f"{e} (got {text!r})", field="--decision-time") from None


def parse_decision_times(text: str) -> list[str]:
    """Comma-separated ``--decision-time`` values (``off,fixed:0.05``), each once."""
    from schedlab.errors import ConfigError

    modes = [parse_decision_time(part) for part in text.split(",")]
    seen: set[str] = set()
    for m in modes:
        if m in seen:
            raise ConfigError(f"decision time {m} is listed twice (got {text!r})", field="--decision-time")
        seen.add(m)
    return modes


def parse_params(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs for ``--param``; a value is read as JSON when it parses, else kept as text."""
    import json

    from schedlab.errors import ConfigError

    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}", field="--param")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def parse_seeds(text: str) -> list[int]:
    """Seeds written like ``1-10`` or ``1,2,5``, for ``--seeds``."""
    from schedlab.errors import ConfigError
    from schedlab.runs.compare import parse_seeds as parse

    try:
        return list(parse(text))
    except ValueError as e:
        raise ConfigError(str(e), field="--seeds") from None
