"""Decision time charged in simulated time: the ``decision_time`` option of every scenario.

A scheduler is one thread. The decision made at simulated time ``t`` costs ``d`` seconds, and
its actions take effect when the scheduler is done with it, at ``b = max(t, busy_until) + d``;
then ``busy_until = b``. ``d`` is fixed (``"fixed:<seconds>"``), or the wall time of the
scheduler's ``decide()`` call (``"measured"``); ``"off"`` (the default) charges nothing and
runs exactly as if the option did not exist. See docs/decision-time.md for what "take effect"
means in each family.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

__all__ = ["DecisionTime", "parse_decision_time", "CHOICES"]

#: How the accepted values are spelled, for messages and help texts.
CHOICES = "off, measured or fixed:<seconds>"


class DecisionTime(NamedTuple):
    """A parsed ``decision_time`` value.

    Attributes:
        mode: ``"off"``, ``"measured"`` or ``"fixed"``.
        seconds: The cost of every decision in fixed mode (s); 0.0 otherwise.
    """

    mode: str
    seconds: float = 0.0

    @property
    def off(self) -> bool:
        """True when nothing is charged."""
        return self.mode == "off"

    def __str__(self) -> str:
        return f"fixed:{self.seconds!r}" if self.mode == "fixed" else self.mode


def parse_decision_time(value: Any) -> DecisionTime:
    """Read a ``decision_time`` value: ``"off"``, ``"measured"`` or ``"fixed:<seconds>"``.

    YAML reads a bare ``off`` as the boolean false, so ``False`` means ``"off"`` too.

    Args:
        value: The value as written.

    Returns:
        The parsed value.

    Raises:
        ValueError: Anything else, or fixed seconds that are not a finite number >= 0 (the
            message leaves the value out: callers name the field and the value).
    """
    if value is False:
        return DecisionTime("off")
    if isinstance(value, DecisionTime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {CHOICES}")
    text = value.strip()
    if text in ("off", "measured"):
        return DecisionTime(text)
    kind, sep, number = text.partition(":")
    if kind.strip() != "fixed" or not sep:
        raise ValueError(f"expected {CHOICES}")
    try:
        seconds = float(number)
    except ValueError:
        raise ValueError("fixed:<seconds> needs a number of seconds") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("fixed:<seconds> needs a finite number of seconds >= 0")
    return DecisionTime("fixed", seconds)
