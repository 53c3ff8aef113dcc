"""Metric values as text: as many digits as a value's size deserves, and mean ± CI half-width."""

from __future__ import annotations

from typing import Any

__all__ = ["fmt", "pm"]


def fmt(v: Any) -> str:
    """A metric value, with as many digits as its size deserves."""
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-2):
            return f"{v:.3g}"
        if abs(v) >= 1000:
            return f"{v:.0f}"
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return str(v)


def pm(mean: float, half: float) -> str:
    """``mean±half`` with the same number of decimals on both sides."""
    m = abs(mean)
    decimals = 0 if m >= 1000 else 1 if m >= 10 else 2 if m >= 0.1 else 3
    return f"{mean:.{decimals}f}±{half:.{decimals}f}"
