"""The HTML report: self-contained, and rendered for real in headless Chromium."""

import contextlib
import csv
import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.metrics.summary import table_keys
from schedlab.report.html import build_report

runner = CliRunner()
# The comparison table's columns; the hand-made results below cover each of them.
SPARK_KEYS = table_keys("spark")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    p = _Tags()
    p.feed(page)
    return p.tags


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("results")
    r = runner.invoke(
        app,
        ["compare", "spark-synthetic", "--jobs", "4", "--seeds", "1-3", "-s", "fair,fifo", "--out", str(out),
         "--report", "--workers", "1"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return out


def test_compare_report_writes_one_self_contained_page(results):
    page = (results / "report.html").read_text()
    tags = _tags(page)
    imgs = [a for t, a in tags if t == "img"]
    # 5 headline bars + the CDF + per scheduler (gantt, utilization, queues) x 2
    assert len(imgs) == len(SPARK_KEYS) + 1 + 3 * 2  # headline bars, the CDF, three plots per scheduler
    assert all(a["src"].startswith("data:image/png;base64,") for a in imgs)
    assert all(a.get("alt") for a in imgs)
    # Nothing is fetched: no external scripts, styles, fonts or images.
    for t, a in tags:
        for attr in ("src", "href"):
            assert not a.get(attr, "data:").startswith(("http:", "https:", "//")), (t, a)
    assert "<script" not in page
    assert [t for t, _ in tags].count("table") == 1 + 2  # comparison + one metrics table per scheduler


def test_table_has_every_scheduler_with_intervals(results):
    page = (results / "report.html").read_text()
    assert "over 3 seeds" in page
    for name in ("fair", "fifo"):
        assert f"<th scope=row>{name}</th>" in page
    assert "±" in page
    assert "paired t-test" in page  # the caption names the test behind the bold cells
    # Utilization and moving delay have no better direction: their verdict says so, whatever the values.
    foot = re.search(r"<tfoot>(.*?)</tfoot>", page).group(1)
    verdicts = dict(zip(SPARK_KEYS, re.findall(r"<td[^>]*>([^<]*)</td>", foot), strict=True))
    assert verdicts["executor_utilization"] == "no direction"
    assert all(verdicts[k] != "no direction" for k in ("avg_jct_s", "p95_jct_s", "makespan_s"))
    # Same number of jobs in every seed: a plain count in the per-scheduler table, not 4.0±0.0.
    assert page.count("<td><code>jobs</code></td><td>4</td>") == 2


def test_report_command_rebuilds_the_same_page(results, tmp_path):
    target = tmp_path / "again.html"
    r = runner.invoke(app, ["report", str(results), "-o", str(target)])
    assert r.exit_code == 0, r.output
    assert target.read_text() == (results / "report.html").read_text()  # deterministic


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda p: None, "no such results folder"),
        (lambda p: p.mkdir(), "no runs.csv here"),
        (lambda p: (p.mkdir(), (p / "runs.csv").write_text("a,b\n1,2\n")), "runs.csv: scenario: missing column"),
    ],
)
def test_bad_results_folder_fails_cleanly(tmp_path, setup, needle):
    folder = tmp_path / "res"
    setup(folder)
    r = runner.invoke(app, ["report", str(folder), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2
    assert needle in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.html").exists()


def test_report_without_traces_still_has_table_and_bars(results, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(results / "runs.csv", bare / "runs.csv")
    tags = _tags(build_report(bare))
    assert sum(t == "img" for t, _ in tags) == len(SPARK_KEYS)
    assert sum(t == "table" for t, _ in tags) == 3


def _need_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("SCHEDLAB_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")


_BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@contextlib.contextmanager
def _browser_page(html_file: Path, fetched: list[str] | None = None, width: int = 1280):
    """A headless Chromium page showing ``html_file``, every <details> opened."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=_BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            if fetched is not None:
                page.on("request", lambda req: fetched.append(req.url))
            page.goto(html_file.resolve().as_uri(), wait_until="load")
            # Open every per-scheduler section so their figures lay out too.
            page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")
            yield page
        finally:
            browser.close()


def test_report_renders_in_headless_chromium(results, tmp_path):
    fetched: list[str] = []
    with _browser_page(results / "report.html", fetched) as page:
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])"
        )
        rows = page.eval_on_selector_all("table.comparison tbody tr", "els => els.length")
        header = page.inner_text("table.comparison thead")
        # Where the headline figures (bars and CDF) sit: [left, top, width], and the width they may fill.
        figs = page.eval_on_selector_all(
            ".figs img",
            "els => els.map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width]; })",
        )
        body_width = page.evaluate("document.querySelector('section').getBoundingClientRect().width")
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
    assert len(images) == len(SPARK_KEYS) + 1 + 3 * 2
    assert all(ok and natural > 100 and shown > 100 for ok, natural, shown in images), images
    assert rows == 2
    assert "mean JCT" in header
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    # Two figures a row at 1280 px, together filling the page width rather than half of it.
    headline = figs[: len(SPARK_KEYS) + 1]
    assert len({round(top) for _, top, _ in headline}) == math.ceil(len(headline) / 2), headline
    first, second = headline[0], headline[1]
    assert round(first[1]) == round(second[1]) and second[0] > first[0]
    assert first[2] + second[2] > 0.9 * body_width, (figs, body_width)


def test_report_of_a_sweep_labels_rows_by_the_values_it_varied(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: tiny\nscenarios: [spark-synthetic]\nschedulers: [fair, fifo]\nseeds: 1-2\n"
        "params:\n  workload.jobs: [2, 3]\n  cluster.executors: 4\n"
    )
    out = tmp_path / "sweep"
    r = runner.invoke(app, ["sweep", str(suite), "--out", str(out), "--workers", "1"])
    assert r.exit_code == 0, r.output
    page = build_report(out)
    rows = [a for t, a in _tags(page) if t == "th"]
    assert len(rows) > 0
    for label in ("fair jobs=2", "fifo jobs=2", "fair jobs=3", "fifo jobs=3"):
        assert f"<th scope=row>{label}</th>" in page
    assert "executors=" not in page  # a value that never varied labels nothing
    assert "run_s=" not in page  # wall-clock columns are not parameters
    assert "over 2 seeds" in page


def test_compare_with_one_seed_writes_null_intervals(tmp_path):
    import json

    r = runner.invoke(app, ["compare", "--jobs", "2", "--seeds", "1", "-s", "fair", "--out", str(tmp_path), "--report"])
    assert r.exit_code == 0, r.output
    stats = json.loads((tmp_path / "summary.json").read_text())["spark-synthetic"]["fair"]["avg_jct_s"]
    assert stats["ci95"] is None and stats["mean"] > 0
    assert "over 1 seed;" in (tmp_path / "report.html").read_text()


# -- which cell is bold ---------------------------------------------------------------------------

# Per seed 1-5, a shared workload effect every scheduler sees, so that differences are paired.
_WORKLOAD = (3.0, -1.0, 0.5, -2.0, 1.5)


def _hand_made_results(folder: Path) -> Path:
    """Three schedulers on five seeds, with values chosen per metric (spark headline keys):

    - mean JCT: ``lead`` is 1 s better than ``close`` on every seed: a clear win;
    - p95 JCT: ``lead`` has the smaller mean but loses to ``close`` on two seeds: a tie;
    - makespan: all the same: a tie;
    - utilization: ``far`` is far higher on every seed, but utilization has no better direction;
    - moving delay: ``lead`` far lower on every seed, but it has no better direction either.
    """
    folder.mkdir()
    p95_gap = (-2.0, 1.5, -1.0, 0.8, -0.6)  # lead - close, per seed: mean -0.26, signs flip
    rows = []
    for seed, w in zip(range(1, 6), _WORKLOAD):
        for name, jct, p95, util, moving in (
            ("lead", 20 + w, 40 + w + p95_gap[seed - 1], 0.50, 100.0 + seed),
            ("close", 21 + w + 0.01 * seed, 40 + w, 0.52, 300.0 + seed),
            ("far", 30 + w, 60 + w, 0.95 + 0.001 * seed, 400.0 + seed),
        ):
            rows.append({
                "scenario": "hand", "family": "spark", "scheduler": name, "seed": seed, "trace_ok": True,
                "jobs": 100, "avg_jct_s": jct, "p95_jct_s": p95, "makespan_s": 500 + w,
                "executor_utilization": util, "total_moving_delay_s": moving,
            })  # fmt: skip
    with (folder / "runs.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder


# What each column of the hand-made table must show: the schedulers in bold, the verdict row.
_EXPECTED = {
    "avg_jct_s": (["lead"], "lead"),
    "p95_jct_s": ([], "tie"),  # lead has the best mean, but not seed by seed
    "makespan_s": ([], "tie"),
    "executor_utilization": ([], "no direction"),  # far is highest on every seed; nothing to crown
    "total_moving_delay_s": ([], "no direction"),
}


def _bold_cells(page: str) -> dict[str, list[str]]:
    """Metric key -> the schedulers whose cell is marked best, read from the HTML."""
    body = re.search(r"<tbody>(.*?)</tbody>", page).group(1)
    out: dict[str, list[str]] = {k: [] for k in SPARK_KEYS}
    for name, cells in re.findall(r"<tr><th scope=row>([^<]*)</th>(.*?)</tr>", body):
        for key, attrs in zip(SPARK_KEYS, re.findall(r"<td([^>]*)>", cells), strict=True):
            if "best" in attrs:
                out[key].append(name)
    return out


def test_hand_made_results_cover_each_case():
    assert set(SPARK_KEYS) <= set(_EXPECTED)
    assert {"avg_jct_s", "p95_jct_s", "executor_utilization"} <= set(SPARK_KEYS)  # win, tie, no direction


def test_only_a_paired_win_is_bold(tmp_path):
    page = build_report(_hand_made_results(tmp_path / "hand"))
    assert _bold_cells(page) == {k: _EXPECTED[k][0] for k in SPARK_KEYS}
    foot = re.search(r"<tfoot>(.*?)</tfoot>", page).group(1)
    assert re.findall(r"<td[^>]*>([^<]*)</td>", foot) == [_EXPECTED[k][1] for k in SPARK_KEYS]
    assert "lead minus close: -1.03±" in foot  # the evidence, on hover
    assert "mean JCT (s) ↓" in page and "executor utilization</th>" in page  # arrows only where one is better
    assert "<td><code>jobs</code></td><td>100</td>" in page


def test_one_seed_crowns_nobody(tmp_path):
    folder = _hand_made_results(tmp_path / "hand")
    rows = list(csv.DictReader((folder / "runs.csv").open()))
    with (folder / "runs.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r["seed"] == "1")
    page = build_report(folder)
    assert all(v == [] for v in _bold_cells(page).values())
    assert "untested" in page


def test_cdf_is_in_the_unit_of_the_table(results, monkeypatch):
    """Spark traces are in ms; the table's JCTs are in s, and so must the CDF be."""
    from schedlab.report import plots

    seen = {}
    real = plots.completion_cdf

    def spy(samples, *, unit, what="job completion time"):
        seen.update(samples=samples, unit=unit)
        return real(samples, unit=unit, what=what)

    monkeypatch.setattr(plots, "completion_cdf", spy)
    build_report(results)
    rows = list(csv.DictReader((results / "runs.csv").open()))
    assert seen["unit"] == "s"
    for name in ("fair", "fifo"):
        longest = max(float(r["max_jct_s"]) for r in rows if r["scheduler"] == name)
        assert max(seen["samples"][name]) == pytest.approx(longest, rel=1e-9)


def test_table_time_unit_follows_the_family_keys():
    from schedlab.metrics.summary import table_keys
    from schedlab.report.html import _time_unit

    assert _time_unit(table_keys("edge")) == "ms"  # latency in ms in the edge table
    assert _time_unit(table_keys("spark")) == "s"
    assert _time_unit(table_keys("multiproc")) == "s"


def test_tie_is_not_bold_in_headless_chromium(tmp_path):
    folder = _hand_made_results(tmp_path / "hand")
    path = folder / "report.html"
    path.write_text(build_report(folder))
    with _browser_page(path) as page:
        names = page.eval_on_selector_all("table.comparison tbody th", "els => els.map(e => e.textContent)")
        weights = page.eval_on_selector_all(
            "table.comparison tbody tr",
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => Number(getComputedStyle(td).fontWeight)))",
        )
        foot = page.inner_text("table.comparison tfoot")
    bold = {key: [n for n, row in zip(names, weights) if row[i] >= 600] for i, key in enumerate(SPARK_KEYS)}
    assert bold == {k: _EXPECTED[k][0] for k in SPARK_KEYS}
    assert foot.split("\t") == ["best", *(_EXPECTED[k][1] for k in SPARK_KEYS)]
