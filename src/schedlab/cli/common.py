"""What every ``schedlab`` command shares: the app, consoles, clean failure, progress bars, flags."""

from __future__ import annotations

import functools
import inspect
import textwrap
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
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
    # Plain help: the boxed panels leave an 80-column terminal a help column of 25 characters,
    # too narrow for a path or a list of defaults without cutting them.
    rich_markup_mode=None,
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
    """Turn a SchedlabError into one line on stderr and exit code 2.

    The command's help text is its docstring with each paragraph on one line, for ``--help``
    to wrap to the terminal (see :func:`reflow`).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SchedlabError as e:
            print_error(str(e))
            raise typer.Exit(2) from None

    wrapper.__doc__ = reflow(fn.__doc__)
    return wrapper


def print_error(message: str) -> None:
    """``schedlab: error: MESSAGE`` on stderr, as one line (see :func:`one_line`)."""
    err.print(f"schedlab: error: {one_line(message)}", markup=False, highlight=False, soft_wrap=True)


def one_line(message: str) -> str:
    r"""``message`` as one line of a terminal.

    Runs of whitespace (a newline of a parser's message, of a file's content) become one space,
    and any other character that is not printable (an escape sequence, NUL, a
    right-to-left override) is written the way ``repr`` writes it, so that no file name or
    content a user gave can break the line or move the cursor.
    """
    text = " ".join(message.split())
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def reflow(doc: str | None) -> str | None:
    """A docstring with each paragraph joined into one line.

    Typer keeps the line breaks of every paragraph after the first, so a docstring wrapped at
    100 characters would show in an 80-column ``--help`` broken mid-sentence. A paragraph
    that starts with click's "keep as is" mark (a backspace character) is left alone.
    """
    if not doc:
        return doc
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


# -- options shared by run and compare ------------------------------------------------------

#: How ``--decision-time`` shows its choices in ``--help``.
DECISION_TIME_METAVAR = "off|measured|fixed:S"

Executors = Annotated[
    int | None, typer.Option("--executors", min=1, metavar="N", help="Override the number of executors (spark).")
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs", min=1, metavar="N", help="Override the number of jobs (workload.jobs: requests for gpu and edge)."
    ),
]
TpchDir = Annotated[
    Path | None,
    typer.Option("--tpch-dir", help="TPC-H profile directory (default: $SCHEDLAB_TPCH_DIR).", show_default=False),
]
Gpus = Annotated[int | None, typer.Option("--gpus", min=1, metavar="N", help="Override the number of GPUs (gpu).")]
# Checked by the scenario (one ``schedlab: error:`` line), so the choices are listed as the metavar.
Mode = Annotated[
    str | None,
    typer.Option(
        "--mode", metavar="offline|online", help="Arrivals (gpu): all at t=0 (offline) or as they come (online)."
    ),
]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="System config, YAML or JSON (gpu).")]
Requests = Annotated[Path | None, typer.Option("--requests", help="Requests file, YAML or JSON (gpu).")]
DecisionTime = Annotated[
    str | None,
    typer.Option(
        "--decision-time",
        metavar=DECISION_TIME_METAVAR,
        help=(
            "Simulated time each scheduling decision costs: off, measured (the wall time of the "
            "scheduler's decide() call; not deterministic) or fixed:<seconds>. See docs/decision-time.md."
        ),
        show_default="the scenario's decision_time, off unless it sets one",
    ),
]


AllMetrics = Annotated[
    bool,
    typer.Option("--all", help="Show every metric, not only the family's main ones (--metrics-json writes all)."),
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


def progress(*, percent: bool = False, delay_s: float = 2.0) -> Progress:
    """A progress bar on stderr that vanishes when done and stays silent off a terminal.

    Args:
        percent: Show the share done (``42%``) instead of the count (``3/10``).
        delay_s: Wall seconds before the bar appears, so that quick work leaves the terminal
            alone and only work that keeps the user waiting shows one.
    """
    return _LateProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        _Done(percent),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
        delay_s=delay_s,
    )


class _Done(ProgressColumn):
    """``3/10`` or ``42%`` done; nothing while the total is unknown (the bar pulses then)."""

    def __init__(self, percent: bool) -> None:
        super().__init__()
        self.percent = percent

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        if self.percent:
            return Text(f"{task.percentage:>3.0f}%", style="progress.percentage")
        return Text(f"{int(task.completed)}/{int(task.total)}", style="progress.download")


class _LateProgress(Progress):
    """A :class:`Progress` whose display starts only once it has been running ``delay_s``."""

    def __init__(self, *columns: Any, delay_s: float, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._delay_s = delay_s
        self._timer: threading.Timer | None = None
        # The timer thread and the caller's stop() must not both touch the display at once.
        self._gate = threading.Lock()
        self._shown = False
        self._closed = False

    def start(self) -> None:
        if self.disable:
            return
        if self._delay_s <= 0:
            self._show()
            return
        self._timer = threading.Timer(self._delay_s, self._show)
        self._timer.daemon = True
        self._timer.start()

    def _show(self) -> None:
        with self._gate:
            if not self._closed and not self._shown:
                self._shown = True
                super().start()

    def stop(self) -> None:
        with self._gate:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
            if self._shown:
                super().stop()


# -- tables ---------------------------------------------------------------------------------


def scheduler_labels(names: list[str]) -> dict[str, str]:
    """What tables call each scheduler: the short form of each name.

    The class for ``path.py:Class`` or ``module:Class``, the folder's name for a policy
    directory (``runs/ppo``), else the name as given. A label two names would share stays
    the full name for both, so rows never merge.
    """
    short = {n: _short_label(n) for n in names}
    taken: dict[str, int] = {}
    for label in short.values():
        taken[label] = taken.get(label, 0) + 1
    return {n: label if taken[label] == 1 else n for n, label in short.items()}


def _short_label(name: str) -> str:
    if ":" in name:
        # ``C:\\dir\\file.py:Class`` has a drive colon first; the class is after the last one.
        cls = name.rsplit(":", 1)[1]
        return cls or name
    if "/" in name or "\\" in name:
        return Path(name.rstrip("/\\")).name or name
    return name


@dataclass(frozen=True)
class Cell:
    """One metric value as a table shows it: the mean, the CI (``"±1.2"`` or ``""``), bold or not."""

    mean: str
    ci: str = ""
    bold: bool = False

    def width(self, two_lines: bool) -> int:
        """Characters the cell needs on one line, or with the CI on a line of its own."""
        if two_lines:
            return max(cell_len(self.mean), cell_len(self.ci))
        return cell_len(self.mean) + cell_len(self.ci)

    def text(self, two_lines: bool) -> Text:
        body = f"{self.mean}\n{self.ci}" if two_lines and self.ci else self.mean + self.ci
        return Text(body, style="bold" if self.bold else "")


def metric_tables(title: str, first: str, rows: dict[str, list[Cell]], headers: list[str], width: int) -> list[Table]:
    """Tables of metric columns that fit ``width`` characters without cutting a number.

    Every column is as wide as its widest value and its header's longest word; the header
    wraps. When the columns do not fit side by side, the CI of the widest columns moves under
    its mean, then the columns go into several tables, each repeating the first column.

    Args:
        title: Title of the first table (the others say "continued").
        first: Header of the first column (the row labels: ``"scheduler"``).
        rows: Row label -> one :class:`Cell` per header.
        headers: The metric columns' headers.
        width: Characters available (the console's width).
    """
    first_w = max([cell_len(first), *(cell_len(r) for r in rows)])
    columns = [_Column(h, [cells[i] for cells in rows.values()]) for i, h in enumerate(headers)]
    groups: list[list[_Column]] = []
    for col in columns:
        if groups and _fits(first_w, [*groups[-1], col], width):
            groups[-1].append(col)
        else:
            groups.append([col])
    tables = []
    for g, group in enumerate(groups):
        two = _two_line_choice(first_w, group, width)
        label = title if g == 0 else f"{title} (continued)"
        t = Table(title=label, header_style="bold")
        t.add_column(first, no_wrap=True)
        for col, two_lines in zip(group, two):
            w = col.width(two_lines)
            t.add_column("\n".join(col.header_lines(w)), justify="right", no_wrap=True, min_width=w)
        for r, label_ in enumerate(rows):
            t.add_row(label_, *(col.cells[r].text(two_lines) for col, two_lines in zip(group, two)))
        tables.append(t)
    return tables


class _Column:
    def __init__(self, header: str, cells: list[Cell]) -> None:
        self.header = header
        self.cells = cells
        # The longest piece the header cannot be broken within (a word, or part of a hyphenated one).
        self.header_min = max((cell_len(w) for w in _wrap(header, 1)), default=0)

    def width(self, two_lines: bool) -> int:
        return max([self.header_min, *(c.width(two_lines) for c in self.cells)])

    def header_lines(self, width: int) -> list[str]:
        return _wrap(self.header, width)


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False) or [""]


def _table_width(first_w: int, widths: list[int]) -> int:
    # A box table: one bar before each column and after the last, one space of padding each side.
    return first_w + sum(widths) + 3 * (len(widths) + 1) + 1


def _two_line_choice(first_w: int, group: list[_Column], width: int) -> list[bool]:
    """Which columns put the CI under the mean: the fewest that let the table fit, widest saving first."""
    two = [False] * len(group)
    saving = sorted(range(len(group)), key=lambda i: group[i].width(True) - group[i].width(False))
    for i in saving:
        if _table_width(first_w, [c.width(t) for c, t in zip(group, two)]) <= width:
            break
        if group[i].width(True) < group[i].width(False):
            two[i] = True
    return two


def _fits(first_w: int, group: list[_Column], width: int) -> bool:
    return _table_width(first_w, [c.width(t) for c, t in zip(group, _two_line_choice(first_w, group, width))]) <= width


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
