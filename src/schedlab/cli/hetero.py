"""``schedlab hetero``: the hetero family's task types as real work, and their calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from schedlab.cli.common import app, fails_cleanly, out, progress

hetero_app = typer.Typer(
    help="Hetero family tools: run a task type for real, calibrate this machine (docs/hetero-live.md).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(hetero_app, name="hetero")


def _parse_scale(text: str | None) -> dict[str, float]:
    """``--scale``: ``TYPE=F,...`` per type, or one number for every type."""
    from schedlab.errors import ConfigError
    from schedlab.families.hetero.tasks import TASK_TYPES

    if text is None:
        return {}
    out_: dict[str, float] = {}
    for part in text.split(","):
        key, sep, value = part.strip().rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"expected TYPE=FACTOR or a number, got {part.strip()!r}", field="--scale") from None
        if sep and key not in TASK_TYPES:
            raise ConfigError(f"unknown task type {key!r}, expected one of {', '.join(TASK_TYPES)}", field="--scale")
        for t in [key] if sep else TASK_TYPES:
            out_[t] = number
    return out_


@hetero_app.command("task")
@fails_cleanly
def hetero_task(
    task_type: Annotated[str, typer.Argument(metavar="TYPE", help="matmul, primes, sort or file_io.")],
    size: Annotated[float, typer.Argument(metavar="SIZE", help="The task's size, within its type's range.")],
    scale: Annotated[
        float | None,
        typer.Option(
            "--scale",
            metavar="F",
            help="Work size per unit of task size: the work done is that of size round(SIZE x F).",
            show_default="the profile's with --profile, else the type's default (docs/hetero-live.md)",
        ),
    ] = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, metavar="N", help="Runs; prints the median.")] = 1,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            metavar="NAME",
            help="Also print the model's expected time on this preset node (pi5, x86-1cpu-ssd, ...).",
        ),
    ] = None,
    profile: Annotated[
        Path | None,
        typer.Option("--profile", help="Also print a calibrated profile's expected time (and use its scale)."),
    ] = None,
) -> None:
    """Run one task of a type for real in this process and print its measured time."""
    import statistics

    from schedlab.errors import ConfigError
    from schedlab.families.hetero.live.executor import WARMUP
    from schedlab.families.hetero.live.profile import load_profile
    from schedlab.families.hetero.live.work import DEFAULT_SIZE_SCALE, do_work, real_size, timed_work
    from schedlab.families.hetero.tasks import DEFAULT_NODES, TASK_TYPES, check_size, expected_duration_s

    if task_type not in TASK_TYPES:
        raise ConfigError(f"unknown task type {task_type!r}, expected one of {', '.join(TASK_TYPES)}", field="TYPE")
    try:
        check_size(task_type, size)
    except ValueError as e:
        raise ConfigError(str(e), field="SIZE") from None
    nodes = {n.name: n for n in DEFAULT_NODES}
    if node is not None and node not in nodes:
        raise ConfigError(f"unknown node {node!r}, expected one of {', '.join(nodes)}", field="--node")
    prof = load_profile(profile) if profile is not None else None
    if scale is None:
        scale = prof.types[task_type].size_scale if prof is not None else DEFAULT_SIZE_SCALE[task_type]
    try:
        work = real_size(task_type, size, scale)
    except ValueError as e:
        raise ConfigError(str(e), field="--scale") from None
    do_work(*next(w for w in WARMUP if w[0] == task_type))  # the first call pays for set-up
    times = [timed_work(task_type, work) for _ in range(repeats)]
    spread = f" (median of {repeats}: {min(times):.4f}-{max(times):.4f} s)" if repeats > 1 else ""
    out.print(
        f"{task_type} {size:g} (work size {work}): {statistics.median(times):.4f} s measured{spread}", highlight=False
    )
    if node is not None:
        exp = expected_duration_s(nodes[node], task_type, size)
        out.print(
            f"expected on {node} ({nodes[node].kind}, built-in model): {exp:.4f} s", highlight=False, soft_wrap=True
        )
    if prof is not None:
        note = "" if prof.types[task_type].size_scale == scale else " (measured at another scale)"
        out.print(
            f"expected on a local worker ({profile}): {prof.expected_s(task_type, size):.4f} s{note}", highlight=False
        )


@hetero_app.command("calibrate")
@fails_cleanly
def hetero_calibrate(
    out_file: Annotated[Path, typer.Option("--out", help="Profile to write (JSON).")],
    sizes: Annotated[
        str,
        typer.Option("--sizes", metavar="F,F,...", help="Sizes as fractions of each type's reference size, 0.05..1."),
    ] = "0.05,0.1,0.25,0.5,0.75,1",
    repeats: Annotated[int, typer.Option("--repeats", min=1, metavar="N", help="Measurements per type and size.")] = 3,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            metavar="N",
            help="Worker processes measuring at once; use what live runs use.",
            show_default="one per core",
        ),
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option(
            "--scale",
            metavar="TYPE=F,...",
            help="Work size per unit of task size, per type (or one number for all).",
            show_default="matmul=0.4,primes=4,sort=1,file_io=0.02",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Measure each task type at several sizes on worker processes, fit the duration model, write a profile.

    Per type it fits start-up and work of docs/hetero.md's model (the type's growth law), and a
    power law; a type whose growth law misses by more than 10% (median) takes the power law if
    that fits better. A scenario names the profile in cluster.profile (docs/hetero-live.md).
    """
    import os

    from schedlab.errors import ConfigError
    from schedlab.families.hetero.live.profile import calibrate, write_profile
    from schedlab.sim.io import check_writable

    check_writable(out_file)
    try:
        fractions = [float(x) for x in sizes.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(f"expected comma-separated fractions, got {sizes!r}", field="--sizes") from None
    n_workers = workers or os.cpu_count() or 1
    with progress() as bar:
        task = bar.add_task("calibrating", total=None)
        prof = calibrate(
            fractions=fractions,
            repeats=repeats,
            workers=n_workers,
            size_scale=_parse_scale(scale),
            progress=lambda k, n: bar.update(task, completed=k, total=n),
        )
    write_profile(prof, out_file)
    if not quiet:
        out.print(calibration_table(prof))
        load = prof.machine.load_before
        out.print(
            f"wrote {out_file}: {n_workers} worker(s) on {prof.machine.cpus} core(s), load average {load[0]:.2f} before"
            if load
            else f"wrote {out_file}",
            highlight=False,
            soft_wrap=True,
        )


def calibration_table(prof) -> Table:
    """A profile's fits: per type, the growth law and the power law, the one used marked ``*``."""
    t = Table(title="hetero calibration (seconds; errors relative)", header_style="bold")
    for col in ("type", "law", "startup", "work", "R²", "err med", "err p90", "sigma"):
        t.add_column(col, justify="left" if col in ("type", "law") else "right", no_wrap=True)
    for name, p in prof.types.items():
        for law, s in (("growth", p.growth), ("power", p.power)):
            if s is None:
                continue
            label = law if s.exponent is None else f"n^{s.exponent:.2f}"
            t.add_row(
                name if law == "growth" else "",
                label + (" *" if p.law == law else ""),
                f"{s.startup_s:.4f}",
                f"{s.work_s:.4f}",
                "-" if s.r2 is None else f"{s.r2:.3f}",
                f"{s.rel_error_median:.1%}",
                f"{s.rel_error_p90:.1%}",
                f"{s.sigma:.3f}",
            )
    return t
