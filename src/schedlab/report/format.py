"""Metric values as text: as many digits as a value's size deserves, and mean ± CI half-width."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "pm", "mean_ci_parts"]


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


def mean_ci_parts(mean: Any, half: Any) -> tuple[str, str]:
    """A mean and its 95% CI as two texts, ``("48.3", "±53.1")``, written as :func:`pm` writes them.

    Two parts, so that a narrow table can put the interval under the mean instead of cutting
    it. The second part is empty when there is no interval to show: one seed (``half`` is NaN
    or None), or a half-width of exactly zero, the same value in every seed (such as the
    workload's job count), which is then written as a plain number (``100``, not ``100.0±0.0``).
    The first part is ``-`` when the mean is undefined.
    """
    if not _finite(mean):
        return "-", ""
    if not _finite(half):
        return fmt(mean), ""
    if half == 0:
        return (fmt(int(mean)) if float(mean).is_integer() else fmt(mean)), ""
    m, _, h = pm(mean, half).partition("±")
    return m, f"±{h}"


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
