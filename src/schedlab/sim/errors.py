"""Every error schedlab raises on purpose, in one place.

The command line turns a :class:`SchedlabError` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "SchedlabError",
    "ConfigError",
    "DataError",
    "UnknownNameError",
    "InvalidActionError",
    "one_line_name",
]


class SchedlabError(Exception):
    """Base class of the errors that report bad input rather than a bug."""


class ConfigError(SchedlabError, ValueError):
    """A scenario, option or configuration value is invalid.

    Args:
        problem: What is wrong, and what was expected.
        source: The file (or ``"--flag"``) the value came from, if any.
        field: The dotted path of the offending field, if any.
    """

    def __init__(self, problem: str, *, source: str | None = None, field: str | None = None):
        self.problem = problem
        self.source = source
        self.field = field
        where = ": ".join(one_line_name(p) for p in (source, field) if p)
        super().__init__(f"{where}: {problem}" if where else problem)


def one_line_name(text: str) -> str:
    """A file name or field as a message shows it: quoted with escapes if it holds an unprintable character.

    Unprintable: a control character, a line or paragraph separator, a bidi override. A newline
    in a file name would otherwise split the one line of the error.
    """
    return text if text.isprintable() else repr(text)


class DataError(ConfigError):
    """A workload file (profiles, logs, requests) is missing or malformed."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup failed; the message lists close matches and the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0] if self.args else ""


class InvalidActionError(SchedlabError, ValueError):
    """A scheduler returned an action that the simulator cannot carry out."""
