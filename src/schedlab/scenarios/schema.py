"""What every family's scenario schema shares: strict models, and old field names still read.

Conventions of every family's scenario (each family's page in docs/ lists its fields):

- two sections, ``cluster`` (what runs the work) and ``workload`` (the work);
- ``workload.jobs`` is the number of jobs (requests, tasks) where a family has one count;
- a time, duration or rate carries its unit in its name (``_ms``, ``_s``,
  ``arrival_rate_per_ms``) and every field's description names its unit.

Every family's scenario class derives from :class:`Scenario`, which adds the options that
belong to the run rather than to the cluster or the workload (``decision_time``).

A renamed field stays readable for one release: a model lists ``old dotted path -> new dotted
path`` in :attr:`Strict.renamed_fields`, and :func:`apply_renames` moves the old keys to the
new ones with a :class:`DeprecationWarning` that names the file, the old and the new name.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schedlab.sim.decision_time import CHOICES, DecisionTime, parse_decision_time

__all__ = ["Strict", "Scenario", "apply_renames", "renamed_key", "MAX_MAGNITUDE", "MAX_ITEMS", "check_size"]

#: Largest magnitude of any number in a scenario. Beyond it a time (in any unit) no longer
#: resolves a microsecond in float64, durations overflow the integer milliseconds some
#: families keep, and no cluster or workload of this world needs more.
MAX_MAGNITUDE = 1e12
#: Most items (tasks, requests, node samples) one run may create: a run of this size already
#: takes minutes and gigabytes; one of 1e12 would take days or exhaust memory.
MAX_ITEMS = 10_000_000
#: Longest scenario name (characters).
MAX_NAME = 200

#: Modules whose frames a deprecation warning skips, to point at the code that loaded the scenario.
_INTERNAL = ("pydantic", "pydantic_core", "schedlab.scenarios")


class Strict(BaseModel):
    """A frozen config model whose unknown keys are errors (YAML is only its serialisation).

    Every float field refuses NaN and infinities.

    Attributes:
        renamed_fields: Deprecated names this model still reads: old dotted path (relative to
            this model) -> new dotted path. An old section name moves its whole mapping (its
            keys merge into the new section); more specific paths are applied first.
    """

    # NaN and infinities pass ``gt``/``ge`` bounds (or compare False against them) and would be
    # simulated, or fail the trace checker only after the run; no field of a scenario means them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    renamed_fields: ClassVar[Mapping[str, str]] = {}

    @field_validator("*", mode="after")
    @classmethod
    def _not_huge(cls, v: Any) -> Any:
        values = v if isinstance(v, tuple | list) else (v,)
        for x in values:
            if isinstance(x, int | float) and not isinstance(x, bool) and abs(x) > MAX_MAGNITUDE:
                big = isinstance(x, int) and x.bit_length() > 1000
                shown = f"a {x.bit_length()}-bit number" if big else f"{x:g}"
                raise ValueError(f"{shown} is beyond the largest number a scenario may hold ({MAX_MAGNITUDE:g})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _read_renamed_fields(cls, data: Any, info: ValidationInfo) -> Any:
        if not cls.renamed_fields or not isinstance(data, dict):
            return data
        source = (info.context or {}).get("source") if isinstance(info.context, dict) else None
        return apply_renames(data, cls.renamed_fields, source=source)


class Scenario(Strict):
    """What every family's scenario has besides its own sections: options of the run itself.

    ``decision_time`` is left out of the scenario's dump while it is ``"off"`` (the default),
    so the scenario echo in traces and the ids of sweep runs stay what they were before the
    option existed.
    """

    decision_time: str = Field(
        "off",
        exclude_if=lambda v: v == "off",
        description=(
            f"simulated time charged for each scheduling decision: {CHOICES} "
            "(seconds; measured takes the wall time of the scheduler's decide() call and is not "
            "deterministic); see docs/decision-time.md"
        ),
    )

    @field_validator("name", mode="after", check_fields=False)
    @classmethod
    def _printable_name(cls, v: Any) -> Any:
        # The name titles tables and becomes part of file names (made safe there, see
        # schedlab.sim.io.file_part); a control character or a page-long name serves neither.
        if isinstance(v, str):
            bad = next((c for c in v if ord(c) < 32 or ord(c) == 127), None)
            if bad is not None:
                raise ValueError(f"a scenario name may not hold control characters (found {bad!r})")
            if len(v) > MAX_NAME:
                raise ValueError(f"a scenario name may be at most {MAX_NAME} characters long, got {len(v)}")
            if not v.strip():
                raise ValueError("a scenario name may not be empty (rows and traces are told apart by it)")
        return v

    @field_validator("decision_time", mode="before")
    @classmethod
    def _decision_time(cls, v: Any) -> str:
        return str(parse_decision_time(v))

    @property
    def decision_time_spec(self) -> DecisionTime:
        """``decision_time``, parsed."""
        return parse_decision_time(self.decision_time)


def check_size(what: str, count: float, fix: str, *, limit: float = MAX_ITEMS, unit: str = "") -> None:
    """Refuse a scenario whose run would not fit in memory or time, naming the limit.

    Args:
        what: What is counted, e.g. ``"jobs x stages x tasks per stage"``.
        count: Its value (an estimate is enough: the limit is orders of magnitude from both ends).
        fix: Which fields to lower.
        limit: The largest allowed value (default :data:`MAX_ITEMS`).
        unit: The unit of ``count`` and ``limit``, with a leading space (``" ms"``).

    Raises:
        ValueError: ``count`` exceeds ``limit`` (pydantic reports it under the model's path).
    """
    if not count <= limit:  # also catches a NaN from inf * 0
        raise ValueError(f"{what} comes to {count:.3g}{unit}, over the limit of {limit:,.0f}{unit} a run can hold; "
                         f"{fix}")  # fmt: skip


def apply_renames(data: dict[str, Any], renames: Mapping[str, str], *, source: str | None = None) -> dict[str, Any]:
    """Move deprecated keys of a scenario mapping to their new names, warning once per key.

    Args:
        data: The mapping (not changed; a copy is returned when a key moves).
        renames: Old dotted path -> new dotted path (see :attr:`Strict.renamed_fields`).
        source: The file the mapping came from, for the warning.

    Returns:
        The mapping with new names only.

    Raises:
        ValueError: An old name and its new name are both given (with different values).
    """
    present = [old for old in renames if _get(data, old) is not _MISSING]
    if not present:
        return data
    data = copy.deepcopy(data)
    emptied: set[str] = set()
    for old in sorted(renames, key=lambda k: (-k.count("."), k)):
        parent_path, _, last = old.rpartition(".")
        parent = _get(data, parent_path) if parent_path else data
        if not isinstance(parent, dict) or last not in parent:
            continue
        value = parent.pop(last)
        if parent_path:
            emptied.add(parent_path)
        new = renames[old]
        if not (value == {} and old in emptied):  # a section whose keys all moved already
            _warn(f"{old!r} is renamed {new!r}", source)
        _put(data, new, value, old)
    return data


def renamed_key(dotted: str, renames: Mapping[str, str], *, source: str | None = None, warn: bool = True) -> str:
    """The current name of a dotted field path, warning (if ``warn``) when it uses a deprecated name.

    The longest old path that is ``dotted`` or a section above it is replaced by its new path
    (``nodes.interval_ms`` -> ``cluster.interval_ms`` when ``nodes`` became ``cluster``).
    """
    for old in sorted(renames, key=lambda k: -k.count(".")):
        if dotted == old or dotted.startswith(old + "."):
            new = renames[old] + dotted[len(old) :]
            if warn:
                _warn(f"{dotted!r} is renamed {new!r}", source)
            return new
    return dotted


# -- helpers ------------------------------------------------------------------------------------

_MISSING = object()


def _get(data: Any, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _put(data: dict[str, Any], dotted: str, value: Any, old: str) -> None:
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        nxt = node.setdefault(p, {})
        if not isinstance(nxt, dict):
            raise ValueError(f"cannot move {old} to {dotted}: {p} is not a mapping")
        node = nxt
    if last not in node:
        node[last] = value
        return
    have = node[last]
    if isinstance(have, dict) and isinstance(value, dict):
        clash = sorted(k for k in value if k in have and have[k] != value[k])
        if clash:
            raise ValueError(
                f"both {old}.{clash[0]} (the old name) and {dotted}.{clash[0]} are given; keep only {dotted}.{clash[0]}"
            )
        have.update(value)
    elif have != value:
        raise ValueError(f"both {old} (the old name) and {dotted} are given; keep only {dotted}")


def _warn(what: str, source: str | None) -> None:
    where = f"{source}: " if source else ""
    warnings.warn(
        f"{where}scenario field {what}; the old name is deprecated and will stop working in the next release",
        DeprecationWarning,
        stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside pydantic and the scenario loading code."""
    frame = sys._getframe(2)  # the caller of _warn
    level = 2
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        scenario = module.startswith("schedlab.families.") and module.endswith(".scenario")
        internal = scenario or module.startswith(_INTERNAL)
        if not internal:
            return level
        frame = frame.f_back
        level += 1
    return 1
