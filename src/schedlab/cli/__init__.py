"""The ``schedlab`` command line.

Bad input (unknown names, malformed files, impossible clusters) ends with one line on stderr
naming the file, the field and the problem, and exit code 2; no output file is left behind
half-written. Each command group lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

from schedlab.cli import core, edge, edge_simulate, evaluate, plot, report, sweep, train  # noqa: F401  (registers the commands)
from schedlab.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the console script."""
    app()
