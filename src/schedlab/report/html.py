"""One self-contained HTML page from a results folder: scenario, comparison table, plots, details.

A results folder is what ``schedlab compare --out DIR`` or ``schedlab sweep`` writes: ``runs.csv``
(one row per run), and for compare a ``traces/`` folder with one trace per run. The page
embeds every figure as a PNG data URI and its style sheet inline, so it opens offline, from
a mail attachment or a CI artifact, with no CDN and no script.

Per scenario it shows the scenario's settings, the mean and 95% confidence interval of each
metric per scheduler, a bar chart per headline metric, the distribution of job completion
times (in the unit of the table's times), and per scheduler the plots of one run (the lowest
seed): Gantt chart, utilization, queue lengths and the family's own figures (its ``figures``
plot hook, such as the edge node state). Figures sit in a grid that fills the page width.

A cell is bold only when :func:`schedlab.metrics.ranking.crowned` says its scheduler beats the
runner-up by a paired test over the seeds; the table's last row names the best, or says that
the leaders tie, or that the metric has no better direction (utilization, counts). A value that
is the same in every seed is shown as a plain number, not as a mean with a zero interval.
"""

from __future__ import annotations

import csv
import html
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schedlab import plugins
from schedlab.errors import DataError

__all__ = ["build_report", "write_report", "read_runs"]

# Columns of a run row that identify the run rather than measure it.
_ID_COLUMNS = ("run_id", "scenario", "family", "scheduler", "seed", "trace_ok")
# A sweep's wall-clock columns: measured, but not a parameter.
_TIMING_PREFIX = "timing."


def write_report(
    results_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the report of ``results_dir`` to ``out`` (default: ``results_dir/report.html``).

    Raises:
        DataError: The folder holds no runs, or a file in it is malformed.
    """
    from schedlab.sim.io import check_writable, write_atomic

    results_dir = Path(results_dir)
    path = Path(out) if out is not None else results_dir / "report.html"
    check_writable(path)  # before reading every trace of the folder
    page = build_report(results_dir, progress=progress)
    write_atomic(path, page.encode())
    return path


def build_report(results_dir: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None) -> str:
    """The report page of ``results_dir`` as HTML text.

    Args:
        results_dir: A folder written by ``schedlab compare --out`` or ``schedlab sweep``.
        progress: Called with (traces read, traces in all) while reading traces.
    """
    results_dir = Path(results_dir)
    rows = read_runs(results_dir)
    scenarios = _group(rows)
    traces = _trace_files(results_dir / "traces")
    total = sum(len(v) for v in traces.values())
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    sections = [_scenario_section(sc, traces, tick) for sc in scenarios.values()]
    return _page(f"schedlab report: {results_dir.name}", results_dir, sections)


def read_runs(results_dir: Path) -> list[dict[str, Any]]:
    """The run rows of a results folder, with numbers parsed (from ``runs.csv``).

    Raises:
        DataError: No ``runs.csv``, or one without the columns scenario, scheduler and seed.
    """
    path = Path(results_dir) / "runs.csv"
    if not Path(results_dir).is_dir():
        raise DataError("no such results folder", source=str(results_dir))
    if not path.is_file():
        raise DataError("no runs.csv here: not a results folder of compare --out or sweep", source=str(results_dir))
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = []
            for r in reader:
                # csv puts the surplus of a long row under the key None and fills a short one with None.
                if None in r or None in r.values():
                    raise DataError(f"expected {len(reader.fieldnames or [])} fields", source=str(path),
                                    field=f"line {reader.line_num}")  # fmt: skip
                rows.append({k: _parse(v) for k, v in r.items()})
            columns = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read ({e})", source=str(path)) from None
    for needed in ("scenario", "scheduler", "seed"):
        if needed not in columns:
            raise DataError("missing column", source=str(path), field=needed)
    if not rows:
        raise DataError("no runs", source=str(path))
    return rows


# -- grouping -----------------------------------------------------------------------------------


@dataclass
class _Scenario:
    name: str
    family: str
    # label -> rows; a label is the scheduler, plus the parameter values of a sweep
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)


def _group(rows: Sequence[dict[str, Any]]) -> dict[str, _Scenario]:
    from schedlab.metrics.summary import METRIC_INFO

    # A sweep's rows carry the values it varied in columns of their own (dotted scenario fields
    # and scheduler keywords); a column that never varies needs no label.
    params = [
        c
        for c in rows[0]
        if c not in _ID_COLUMNS and c not in METRIC_INFO and "." in c and not c.startswith(_TIMING_PREFIX)
    ]
    params = [c for c in params if len({repr(r.get(c)) for r in rows}) > 1]
    out: dict[str, _Scenario] = {}
    for r in rows:
        sc = out.setdefault(r["scenario"], _Scenario(str(r["scenario"]), str(r.get("family") or ""), params=params))
        label = str(r["scheduler"])
        if params:
            label += " " + " ".join(f"{p.rsplit('.', 1)[-1]}={r.get(p)}" for p in params)
        sc.groups.setdefault(label, []).append(r)
    return out


# -- sections -----------------------------------------------------------------------------------


def _scenario_section(sc: _Scenario, traces: dict[tuple[str, str], list[tuple[int, Path]]], tick) -> str:
    from schedlab.metrics.ranking import crowned, per_seed
    from schedlab.metrics.summary import metric_info, table_keys
    from schedlab.runs.compare import summarize_grid

    relabelled = [{**r, "scheduler": label} for label, rs in sc.groups.items() for r in rs]
    summary = summarize_grid(relabelled)[sc.name]
    seeds = sorted({r["seed"] for rs in sc.groups.values() for r in rs})
    keys = [k for k in table_keys(sc.family) if any(k in m for m in summary.values())]
    crowns = {k: crowned(per_seed(relabelled, k), metric_info(k).direction) for k in keys}

    from schedlab.runs.traces import load_trace
    from schedlab.sim.io import file_part

    loaded: dict[str, list[Any]] = {}
    for label in sc.groups:
        loaded[label] = []
        for _, path in traces.get((file_part(sc.name), file_part(label)), []):
            loaded[label].append(load_trace(path))
            tick()
    first = next((trs[0] for trs in loaded.values() if trs), None)

    parts = [f'<section class="scenario"><h2>{_e(sc.name)}</h2>']
    parts.append(_scenario_block(sc, first.scenario if first is not None else {}, len(seeds)))
    parts.append(_comparison_table(summary, keys, len(seeds), crowns, table_id=f"table-{_slug(sc.name)}"))
    figs = _bar_charts(summary, keys)
    if any(loaded.values()):
        figs.append(_cdf(loaded, _time_unit(keys)))
    parts.append(f'<div class="grid figs">{"".join(figs)}</div>')
    parts.append(_details(summary, loaded))
    parts.append("</section>")
    return "\n".join(parts)


def _scenario_block(sc: _Scenario, doc: dict[str, Any], n_seeds: int) -> str:
    desc = doc.get("description") or ""
    facts = [("family", sc.family), ("seeds", str(n_seeds)), ("schedulers", str(len(sc.groups)))]
    if sc.params:
        facts.append(("parameters", ", ".join(sc.params)))
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    settings = ""
    if doc:
        import yaml

        text = yaml.safe_dump({k: v for k, v in doc.items() if k != "description"}, sort_keys=False)
        settings = f"<details><summary>scenario settings</summary><pre>{_e(text)}</pre></details>"
    return f'<p class="desc">{_e(desc)}</p><dl class="facts">{items}</dl>{settings}'


def _comparison_table(
    summary: dict[str, dict[str, tuple]], keys: Sequence[str], n: int, crowns: dict[str, Any], *, table_id: str
) -> str:
    from schedlab.metrics.ranking import TEST_DESCRIPTION
    from schedlab.metrics.summary import metric_info

    head = "".join(f"<th>{_e(metric_info(k).label)}{_ARROW[metric_info(k).direction]}</th>" for k in keys)
    body = []
    for s, m in summary.items():
        cells = []
        for k in keys:
            mean, half = m.get(k, (None, None))
            crown = crowns.get(k)
            best = crown is not None and crown.scheduler == s
            cells.append(f'<td class="best">{_pm(mean, half)}</td>' if best else f"<td>{_pm(mean, half)}</td>")
        body.append(f"<tr><th scope=row>{_e(s)}</th>{''.join(cells)}</tr>")
    foot = ""
    if len(summary) > 1:
        verdicts = "".join(_verdict_cell(k, crowns.get(k), n) for k in keys)
        foot = f"<tfoot><tr><th scope=row>best</th>{verdicts}</tr></tfoot>"
    arrows = "↓ lower is better, ↑ higher is better, no arrow: no better direction"
    if n == 1:
        caption = f"value over 1 seed; no interval, so no scheduler is marked best; {arrows}"
    else:
        caption = (
            f"mean ± 95% confidence interval over {n} seeds (a value alone: the same in every seed); "
            f"{arrows}. {TEST_DESCRIPTION}."
        )
    return (
        f'<table class="comparison" id="{table_id}"><caption>{_e(caption)}</caption>'
        f"<thead><tr><th>scheduler</th>{head}</tr></thead><tbody>{''.join(body)}</tbody>{foot}</table>"
    )


_ARROW = {"lower": " ↓", "higher": " ↑", None: ""}


def _verdict_cell(key: str, crown: Any, n: int) -> str:
    from schedlab.metrics.summary import metric_info
    from schedlab.report.format import pm

    if metric_info(key).direction is None:
        return '<td class="verdict" title="neither higher nor lower is better">no direction</td>'
    if crown is None:
        if n < 2:
            return '<td class="verdict" title="one seed: no paired test">untested</td>'
        return '<td class="verdict tie" title="the leader is not better than the runner-up beyond seed noise">tie</td>'
    why = (
        f"{crown.scheduler} minus {crown.runner_up}: {pm(crown.diff_mean, crown.diff_ci95)} "
        f"over {crown.pairs} paired seeds"
    )
    return f'<td class="verdict won" title="{_e(why)}">{_e(crown.scheduler)}</td>'


def _bar_charts(summary: dict[str, dict[str, tuple]], keys: Sequence[str]) -> list[str]:
    from schedlab.report.plots import comparison_bars

    return [_img(comparison_bars(summary, k), f"comparison of {k}") for k in keys]


def _time_unit(keys: Sequence[str]) -> str:
    """The unit the comparison table gives times in (its first timed key), for the CDF to match."""
    for k in keys:
        for suffix, unit in (("_ms", "ms"), ("_s", "s")):
            if k.endswith(suffix):
                return unit
    return "s"


def _cdf(loaded: dict[str, list[Any]], unit: str) -> str:
    from schedlab.report.plots import completion_cdf

    per_second = {"s": 1.0, "ms": 1e3}[unit]
    samples: dict[str, list[float]] = {}
    for label, trs in loaded.items():
        vals: list[float] = []
        for tr in trs:
            # Traces are recorded in their own unit (spark in ms); the table shows seconds.
            scale = tr.seconds_per_unit * per_second
            arrival, completion = tr.jobs["arrival"], tr.jobs["completion"]
            vals += [(c - a) * scale for a, c in zip(arrival, completion) if c is not None]
        if vals:
            samples[label] = vals
    if not samples:
        return ""
    spec = plugins.find(next(iter(loaded.values()))[0].family)
    what = spec.completion if spec is not None else "job completion time"
    fig = completion_cdf(samples, unit=unit, what=what)
    fig.axes[0].set_title(f"CDF of {what}, all seeds", fontsize=10)
    return _img(fig, f"CDF of {what}, all seeds")


def _details(summary: dict[str, dict[str, tuple]], loaded: dict[str, list[Any]]) -> str:
    from schedlab.metrics.summary import metric_info
    from schedlab.report.plots import trace_figures

    parts = ["<h3>Per scheduler</h3>"]
    for label, metrics in summary.items():
        rows = "".join(
            f"<tr><th scope=row>{_e(metric_info(k).label)}</th><td><code>{_e(k)}</code></td><td>{_pm(*v)}</td></tr>"
            for k, v in metrics.items()
        )
        figs = ""
        trs = loaded.get(label) or []
        if trs:
            seed_note = "plots of the run with the lowest seed"
            imgs = "".join(_img(fig, f"{name} of {label}") for name, fig in trace_figures(trs[0]).items())
            figs = f'<p class="note">{seed_note}</p><div class="grid figs">{imgs}</div>'
        parts.append(
            f'<details class="scheduler"><summary>{_e(label)}</summary>'
            f'<table class="metrics">{rows}</table>{figs}</details>'
        )
    return "\n".join(parts)


# -- page ---------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1800px;
padding:0 1.5em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
.meta,.note,caption{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:1em 0}th,td{padding:.3em .7em;border-bottom:1px solid #e4e4e4;
text-align:right}th[scope=row],thead th:first-child{text-align:left}thead th{border-bottom:2px solid #bbb}
td.best{font-weight:700;color:#0a6a2f}caption{caption-side:top;text-align:left;padding-bottom:.3em;max-width:75em}
tfoot th,tfoot td{border-top:2px solid #bbb;border-bottom:0;color:#555;font-size:.9em}td.tie{font-style:italic}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dt{color:#666}dd{margin:0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,520px),1fr));gap:1em;align-items:start}
.grid img{width:100%;height:auto;border:1px solid #eee}img.plot{max-width:100%;height:auto}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}pre{background:#f6f6f6;padding:.8em;overflow:auto}
table.metrics td,table.metrics th{font-size:.9em}
"""


def _page(title: str, results_dir: Path, sections: list[str]) -> str:
    from schedlab import __version__

    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p class="meta">results from <code>{_e(str(results_dir))}</code>; schedlab {_e(__version__)}</p>'
        + "\n".join(sections)
        + "</body></html>\n"
    )


def _img(fig, alt: str) -> str:
    from schedlab.report.plots import figure_to_png_base64

    return f'<img class="plot" alt="{_e(alt)}" src="data:image/png;base64,{figure_to_png_base64(fig)}">'


# -- small helpers ------------------------------------------------------------------------------


def _trace_files(folder: Path) -> dict[tuple[str, str], list[tuple[int, Path]]]:
    """(scenario, scheduler file name) -> [(seed, path)], by seed; as compare names them."""
    out: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    if not folder.is_dir():
        return out
    for p in folder.glob("*.json"):
        parts = p.stem.rsplit("__", 2)
        if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
            continue
        out.setdefault((parts[0], parts[1]), []).append((int(parts[2]), p))
    for files in out.values():
        files.sort()
    return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").lower()


def _parse(value: str | None) -> Any:
    if value is None or value == "":
        return None
    if value in ("True", "False"):
        return value == "True"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _pm(mean: Any, half: Any) -> str:
    from schedlab.report.format import mean_ci_parts

    # A value the same in every seed (a half-width of exactly 0) comes back as a plain number.
    return "".join(mean_ci_parts(mean, half))


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
