"""The HTML report: self-contained, and rendered for real in headless Chromium."""

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from schedlab.cli import app
from schedlab.report.html import build_report

runner = CliRunner()
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
    assert len(imgs) == 5 + 1 + 3 * 2
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
    assert page.count('class="best"') == 5  # one best cell per headline metric
    assert "±" in page


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
    assert sum(t == "img" for t, _ in tags) == 5
    assert sum(t == "table" for t, _ in tags) == 3


def _need_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("SCHEDLAB_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed")


def test_report_renders_in_headless_chromium(results, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    page_url = (results / "report.html").resolve().as_uri()
    fetched = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )  # fmt: skip
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda req: fetched.append(req.url))
            page.goto(page_url, wait_until="load")
            # Open every per-scheduler section so their figures lay out too.
            page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])"
            )
            rows = page.eval_on_selector_all("table.comparison tbody tr", "els => els.length")
            header = page.inner_text("table.comparison thead")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert len(images) == 12
    assert all(ok and natural > 100 and shown > 100 for ok, natural, shown in images), images
    assert rows == 2
    assert "mean JCT" in header
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


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
