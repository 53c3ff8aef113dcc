"""The ``schedlab`` command line.

Bad input (unknown names, malformed files, impossible clusters) ends with one line on stderr
naming the file, the field and the problem, and exit code 2; no output file is left behind
half-written. Each command group lives in its own module and registers itself on ``app``.
"""

from __future__ import annotations

from schedlab.cli import core, edge, edge_simulate, evaluate, hetero, plot, pool, report, sweep, train  # noqa: F401  (registers the commands)
from schedlab.cli.common import app

__all__ = ["app", "main"]


def main(args: list[str] | None = None) -> None:
    """Entry point of the console script; exits with the command's code.

    The parser's own errors (an unknown option, a value of the wrong type) become the same one
    line as every other bad input, ``schedlab: error: ...`` with exit code 2, instead of the
    parser's usage block. So does an operating-system refusal no check could foresee (a disk
    full, a file that vanished, a permission taken away mid-run): it concerns the user's
    machine, not schedlab, and a traceback would only hide the one line that matters.

    Args:
        args: The arguments (default: ``sys.argv[1:]``).
    """
    import sys

    import typer

    from schedlab.cli.common import print_error
    from schedlab.sim.errors import one_line_name

    def fail(message: str, code: int = 2) -> None:
        print_error(message)
        sys.exit(code)

    try:
        code = app(args=args, prog_name="schedlab", standalone_mode=False)
    except typer.Abort:
        fail("aborted", 1)
    except typer.TyperException as e:  # the parser's errors: click's UsageError and friends
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare ``schedlab``: the help, as click shows it
            e.show()
            sys.exit(2)
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        ctx = getattr(e, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        fail(message + hint, getattr(e, "exit_code", 2) or 2)
    except MemoryError:
        fail("out of memory; make the scenario or the run smaller")
    except OSError as e:
        where = f"{one_line_name(str(e.filename))}: " if e.filename else ""
        fail(f"{where}{e.strerror or e}")
    sys.exit(code if isinstance(code, int) else 0)
