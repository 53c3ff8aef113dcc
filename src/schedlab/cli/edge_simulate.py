"""``schedlab edge simulate``: the predictive scheduler in the closed-loop edge simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from schedlab.cli.common import AllMetrics, Cell, err, fails_cleanly, metric_tables, out, progress
from schedlab.cli.edge import edge_app
from schedlab.report.format import fmt

#: The baselines ``--compare`` runs beside the predictive scheduler.
BASELINES = ("random", "round-robin", "least-delay", "least-loaded")
_COMPARE_KEYS = ("latency_mean_ms", "latency_p95_ms", "deadline_miss_rate", "timeout_rate", "jain_fairness")
_HEADERS = ("mean latency (ms)", "p95 latency (ms)", "deadline-miss rate", "timeout rate", "Jain fairness")


@edge_app.command("simulate")
@fails_cleanly
def edge_simulate(
    scenario: Annotated[str, typer.Option("--scenario", help="Edge preset name or scenario YAML path.")] = "edge",
    model_dir: Annotated[
        Path | None, typer.Option("--model-dir", help="Folder of a saved (trained) forecaster.", show_default=False)
    ] = None,
    forecaster: Annotated[
        str | None,
        typer.Option(
            "--forecaster",
            help="Forecaster needing no training: last, sma, ewma, linear.",
            show_default="ewma, alpha 0.3",
        ),
    ] = None,
    forecaster_param: Annotated[
        list[str] | None,
        typer.Option(
            "--forecaster-param", help="KEY=VALUE hyper-parameter of --forecaster (repeatable).", show_default=False
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option("--window", help="Samples of history to forecast from.", show_default="the forecaster's"),
    ] = None,
    steps_ahead: Annotated[int, typer.Option("--steps-ahead", help="Samples ahead the score looks.")] = 1,
    req_cost: Annotated[
        float | None,
        typer.Option("--req-cost", help="Service cost (core-ms) assumed per request.", show_default="its own cost"),
    ] = None,
    margin_ms: Annotated[float, typer.Option("--margin-ms", help="Safety margin before the deadline (ms).")] = 14.0,
    fair_gamma: Annotated[float, typer.Option("--fair-gamma", help="Weight of the fairness penalty.")] = 1.0,
    fair_scale_ms: Annotated[
        float, typer.Option("--fair-scale-ms", help="Fairness penalty (ms) at twice the fair share.")
    ] = 25.0,
    fair_window: Annotated[int, typer.Option("--fair-window", help="Recent picks the shares count.")] = 20,
    cooldown_k: Annotated[int, typer.Option("--cooldown-k", help="Picks in a row that trigger the cooldown.")] = 2,
    cooldown_ms: Annotated[float, typer.Option("--cooldown-ms", help="Cooldown penalty (ms).")] = 4.0,
    top_k: Annotated[int, typer.Option("--top-k", help="Best candidates an exploring pick chooses from.")] = 2,
    epsilon: Annotated[float, typer.Option("--epsilon", help="Probability of an exploring pick.")] = 0.2,
    safety_threshold_ms: Annotated[
        float | None,
        typer.Option(
            "--safety-threshold-ms", help="Largest predicted delay above the best node's (ms).", show_default="off"
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the requests, nodes and exploration.")] = 0,
    requests: Annotated[
        int | None, typer.Option("--requests", help="Override the number of requests.", show_default=False)
    ] = None,
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write the predictive run's trace (.json or .parquet).")
    ] = None,
    metrics_json: Annotated[
        Path | None, typer.Option("--metrics-json", help="Write the predictive run's metrics as flat JSON.")
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also run the baselines on the same seed; print one table.")
    ] = False,
    check: Annotated[bool, typer.Option("--check/--no-check", help="Check the traces.")] = True,
    all_metrics: AllMetrics = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Run the predictive scheduler closed loop on an edge scenario and print its metrics."""
    from schedlab.errors import ConfigError, SchedlabError
    from schedlab.learn.forecast.predictive import PredictiveNode
    from schedlab.metrics.checker import check_trace
    from schedlab.runs import simulate
    from schedlab.runs.traces import save_trace
    from schedlab.scenarios import load_scenario
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    for path in (trace, metrics_json):
        if path is not None:
            check_writable(path)  # before the runs, so that no output is left without the other
    if requests is not None and requests < 1:
        raise ConfigError(f"must be at least 1, got {requests}", field="--requests")
    sc = load_scenario(scenario)
    if sc.family != "edge":
        raise ConfigError(f"scenario {sc.name!r} is of family {sc.family!r}, not edge", field="--scenario")
    if requests is not None:
        sc = load_scenario(scenario, {"workload.jobs": requests})
    knobs = dict(
        window=window,
        steps_ahead=steps_ahead,
        req_cost=req_cost,
        margin_ms=margin_ms,
        fair_gamma=fair_gamma,
        fair_scale_ms=fair_scale_ms,
        fair_window=fair_window,
        cooldown_k=cooldown_k,
        cooldown_ms=cooldown_ms,
        top_k=top_k,
        epsilon=epsilon,
        safety_threshold_ms=safety_threshold_ms,
    )

    def build() -> PredictiveNode:
        try:
            return PredictiveNode(
                forecaster=forecaster,
                forecaster_params=_params(forecaster_param),
                model_dir=model_dir,
                **knobs,
            )
        except SchedlabError as e:
            if isinstance(e, ConfigError) and e.field and e.source is None:
                flag = "--forecaster-param" if e.field == "forecaster_params" else "--" + e.field.replace("_", "-")
                raise type(e)(e.problem, field=flag) from None
            raise

    scheduler = build()
    # Each predictive row names its forecaster; with --compare, the same scheduler on
    # persistence (last) shows what the chosen forecaster adds.
    runs: dict[str, Any] = {f"predictive ({scheduler.forecaster_name})": scheduler}
    if compare:
        if scheduler.forecaster_label != "last":
            runs["predictive (last)"] = PredictiveNode(forecaster="last", **knobs)
        runs.update((b, b) for b in BASELINES)
    results = {}
    with progress() as bar:
        task = bar.add_task(f"{sc.name} / seed {seed}", total=len(runs))
        for name, chosen in runs.items():
            results[name] = simulate(sc, chosen, seed)
            bar.advance(task)
    if check:
        for name, result in results.items():
            report = check_trace(result.trace)
            if not report.ok:
                for v in report.violations[:10]:
                    err.print(f"schedlab: trace violation ({name}): [{v.check}] {v.message}", markup=False)
                raise typer.Exit(1)
    mine = next(iter(results.values()))
    if trace is not None:
        save_trace(mine.trace, trace, native=True)
    if metrics_json is not None:
        write_atomic(metrics_json, plain_json(mine.metrics).encode())
    if quiet:
        return
    title = f"{sc.name} / predictive, forecaster {scheduler.forecaster_label} / seed {seed}"
    if compare:
        _compare_table(f"{sc.name}, seed {seed}", {n: r.metrics for n, r in results.items()})
        out.print(
            f"predictive ({scheduler.forecaster_name}): forecaster {scheduler.forecaster_label}. "
            "One seed gives no paired test, so no value is marked best; compare seeds with schedlab compare."
        )
    else:
        from schedlab.cli.core import _metrics_table

        _metrics_table(title, mine.metrics, "edge", show_all=all_metrics)


def _params(pairs: list[str] | None) -> dict[str, Any] | None:
    """``["alpha=0.5"]`` -> ``{"alpha": 0.5}``; values are JSON when they parse, else strings."""
    from schedlab.errors import ConfigError

    if not pairs:
        return None
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {pair!r}", field="--forecaster-param")
        try:
            params[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            params[key.strip()] = text
    return params


def _compare_table(title: str, metrics: dict[str, dict[str, Any]]) -> None:
    from schedlab.metrics.ranking import crowned
    from schedlab.metrics.summary import metric_info

    best = {}
    for key in _COMPARE_KEYS:
        # One seed gives no paired test, so nothing is marked best (see schedlab.metrics.ranking).
        crown = crowned({n: {0: m.get(key)} for n, m in metrics.items()}, metric_info(key).direction)
        best[key] = crown and crown.scheduler
    rows = {name: [Cell(fmt(m.get(k)), bold=best[k] == name) for k in _COMPARE_KEYS] for name, m in metrics.items()}
    # Sized to the terminal like compare's tables, so that no header or number is cut.
    for t in metric_tables(title, "scheduler", rows, list(_HEADERS), out.width):
        out.print(t)
