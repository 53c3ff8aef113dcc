"""``schedlab plot``: the figures of one trace, as PNG and SVG files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import app, fails_cleanly, out, progress

_FORMATS = ("png", "svg")


@app.command()
@fails_cleanly
def plot(
    trace: Annotated[Path, typer.Argument(help="Trace file (.json or .parquet).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the figures.", show_default="<trace stem>_plots beside the trace"),
    ] = None,
    formats: Annotated[str, typer.Option("--format", help="Comma-separated file formats: png, svg.")] = "png,svg",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Draw a trace's figures (Gantt chart, utilization, queue lengths; edge: node state).

    The trace must pass the checker (schedlab check): figures of an impossible trace would show
    things that never happened.
    """
    from schedlab.errors import ConfigError, DataError
    from schedlab.metrics.checker import check_trace
    from schedlab.runs.traces import load_trace
    from schedlab.sim.io import check_writable

    chosen = list(dict.fromkeys(f.strip().lower() for f in formats.split(",") if f.strip()))
    bad = [f for f in chosen if f not in _FORMATS]
    if bad or not chosen:
        raise ConfigError(f"expected png, svg or png,svg, got {formats!r}", field="--format")
    tr = load_trace(trace)
    folder = out_dir if out_dir is not None else trace.parent / f"{trace.stem}_plots"
    check_writable(folder, folder=True)
    report = check_trace(tr, max_per_check=1)
    if not report.ok:
        first = report.violations[0]
        total = sum(report.counts.values())
        raise DataError(
            f"fails the checker ({total} violation(s); first: [{first.check}] {first.message}); "
            f"'schedlab check {trace}' lists them",
            source=str(trace),
        )

    # Loaded here, not at import: matplotlib is only needed by this command.
    from schedlab.report.plots import save_figure, trace_figures

    try:
        figs = trace_figures(tr)
    except (ValueError, TypeError, KeyError, IndexError) as e:
        # The checker passed, so what fails here is a table only the figures read (an edge
        # trace's node samples): damaged data, drawn from the file as it is.
        raise DataError(f"cannot draw it: a table the figures read is damaged ({e})", source=str(trace)) from None
    written: list[Path] = []
    with progress() as bar:
        task = bar.add_task(f"plotting {trace.name}", total=len(figs))
        for name, fig in figs.items():
            written += save_figure(fig, folder / name, formats=chosen)
            bar.advance(task)
    if not quiet:
        for p in written:
            out.print(str(p), markup=False, highlight=False, soft_wrap=True)
