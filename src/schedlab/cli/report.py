"""``schedlab report``: one self-contained HTML page from a results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import app, fails_cleanly, out, progress


@app.command()
@fails_cleanly
def report(
    results_dir: Annotated[Path, typer.Argument(help="Folder written by compare --out or sweep.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file to write.", show_default="RESULTS_DIR/report.html"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Write an HTML report (tables, plots, per-scheduler details) that opens offline."""
    path = write_with_progress(results_dir, output)
    if not quiet:
        out.print(f"wrote {path}")


def write_with_progress(results_dir: Path, output: Path | None) -> Path:
    """Write the report of ``results_dir``, with a progress bar over the traces it reads."""
    from schedlab.report.html import write_report

    with progress() as bar:
        task = bar.add_task("report", total=None)
        return write_report(results_dir, output, progress=lambda k, n: bar.update(task, completed=k, total=n))
