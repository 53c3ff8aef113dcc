"""``schedlab edge``: node logs, forecasters and the predictive scheduler of the edge family."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Annotated

import typer

from schedlab.cli.common import app, fails_cleanly, out, progress

# -- edge -----------------------------------------------------------------------------------

edge_app = typer.Typer(
    help="Edge family tools: node logs, forecasters, the predictive scheduler.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(edge_app, name="edge")


@edge_app.command("gen-logs")
@fails_cleanly
def edge_gen_logs(
    num_nodes: Annotated[int, typer.Option("--num-nodes", help="Number of nodes.")] = 10,
    steps: Annotated[int, typer.Option("--steps", help="Samples per node.")] = 1000,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples (sets timestamps).")] = 0.02,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of the node dynamics.")] = 42,
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")] = Path("node_logs.csv"),
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario of the node dynamics.")] = "edge",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Write node logs (timestamp,node_id,cpu,mem,delay,load) of the background node dynamics."""
    import numpy as np

    from schedlab.errors import ConfigError
    from schedlab.families.edge.nodes import NodeParams, generate_node_logs, write_node_logs
    from schedlab.scenarios import load_scenario
    from schedlab.scenarios.schema import MAX_ITEMS
    from schedlab.sim.io import check_writable

    for flag, value in (("--num-nodes", num_nodes), ("--steps", steps)):
        if value < 1:
            raise ConfigError(f"must be at least 1, got {value}", field=flag)
    if num_nodes * steps > MAX_ITEMS:
        raise ConfigError(
            f"--num-nodes x --steps comes to {num_nodes * steps:.3g} samples, over the limit of {MAX_ITEMS:,}",
            field="--steps",
        )
    if not (interval > 0 and math.isfinite(interval)):
        raise ConfigError(f"must be a positive number of seconds, got {interval}", field="--interval")
    # Timestamps are written to the nanosecond; a shorter interval would give equal ones.
    if not 1e-6 <= interval <= 1e9:
        raise ConfigError(f"must be from 1e-06 to 1e+09 seconds, got {interval:g}", field="--interval")
    check_writable(out_file)
    sc = load_scenario(scenario)
    if sc.family != "edge":
        raise ConfigError(f"scenario {sc.name!r} is of family {sc.family!r}, not edge", field="--scenario")
    params = NodeParams.from_config(sc.cluster)
    with progress() as bar:
        task = bar.add_task(f"{num_nodes} nodes x {steps} steps", total=steps)
        log = generate_node_logs(
            num_nodes,
            steps,
            interval,
            params,
            np.random.default_rng(seed),
            progress=lambda k: bar.update(task, completed=k),
        )
    write_node_logs(out_file, log)
    if not quiet:
        out.print(f"wrote {out_file} ({num_nodes} nodes x {steps} steps, every {interval} s)")


# -- forecasters ----------------------------------------------------------------------------

#: Command-line option -> forecaster hyper-parameter. An option left unset keeps the model's
#: default; one set for a model without that hyper-parameter is an error naming the option.
MODEL_OPTIONS = {
    "--window": "window",
    "--horizon": "horizon",
    "--epochs": "epochs",
    "--batch-size": "batch_size",
    "--lr": "lr",
    "--weight-decay": "weight_decay",
    "--patience": "patience",
    "--val-fraction": "val_fraction",
    "--seed": "seed",
    "--threads": "threads",
    "--d-model": "d_model",
    "--nhead": "nhead",
    "--layers": "layers",
    "--ffn": "ffn",
    "--dropout": "dropout",
    "--log-delay": "log_delay",
    "--delay-weight": "delay_weight",
    "--huber-delay": "huber_delay",
    "--residual": "residual",
    "--model-path": "model_path",
    "--lora-r": "lora_r",
    "--lora-alpha": "lora_alpha",
    "--lora-dropout": "lora_dropout",
    "--alpha": "alpha",
    "--span": "span",
}
_OPTION_OF = {v: k for k, v in MODEL_OPTIONS.items()}
#: Options of the run rather than of a model: every model takes them, so that a script can pass
#: them to each. A model without that hyper-parameter (a baseline has no weights to seed and no
#: torch threads) runs as it would anyway; ``metrics.json`` records the seed.
RUN_OPTIONS = ("--seed", "--threads")


def _defaults_of(model: str) -> dict[str, object]:
    """The model's default per hyper-parameter option (``--window`` -> 30), from its signatures."""
    import inspect

    from schedlab.learn.forecast.base import forecaster_class

    cls = forecaster_class(model)
    found: dict[str, object] = {}
    for flag, param in MODEL_OPTIONS.items():
        # Shared knobs are declared on a base class and passed on through **kwargs.
        for klass in cls.__mro__:
            p = inspect.signature(klass.__init__).parameters.get(param) if "__init__" in vars(klass) else None
            if p is not None and p.default is not inspect.Parameter.empty and p.default is not None:
                found[flag] = p.default
                break
    return found


def _defaults_text() -> str:
    """What the options left unset come to, said once for ``edge train --help``."""
    transformer = _defaults_of("transformer")
    lm = {f: v for f, v in _defaults_of("lm").items() if transformer.get(f) != v}

    def listed(defaults: dict[str, object]) -> str:
        flags = (f"--no-{f[2:]}" if v is False else f if v is True else f"{f} {v}" for f, v in defaults.items())
        return ", ".join(flags)

    text = (
        "A hyper-parameter option left unset keeps the chosen model's default. "
        f"transformer: {listed(transformer)}. "
        f"lm: the packaged MiniLM-L6, {listed(lm)}, the rest as the transformer. "
        "ewma --alpha, sma and linear --span: tuned on the training log."
    )
    # Wrapped here, never inside an option name ("\b" keeps click from wrapping it again).
    return "\b\n" + "\n".join(textwrap.wrap(text, 76, break_on_hyphens=False))


def _opt(flag: str, help_: str, *names: str) -> typer.models.OptionInfo:
    # The defaults depend on --model; the command's epilog states them once.
    return typer.Option(*(names or (flag,)), help=help_, show_default=False)


Window = Annotated[int | None, _opt("--window", "History rows per sample.")]
Horizon = Annotated[int | None, _opt("--horizon", "States predicted at once (longer forecasts roll forward).")]
Epochs = Annotated[int | None, _opt("--epochs", "Most training epochs (early stopping may end sooner).")]
BatchSize = Annotated[int | None, _opt("--batch-size", "Windows per optimiser step.")]
Lr = Annotated[float | None, _opt("--lr", "AdamW learning rate.")]
WeightDecay = Annotated[float | None, _opt("--weight-decay", "AdamW weight decay.")]
Patience = Annotated[int | None, _opt("--patience", "Epochs without better validation loss before stopping.")]
ValFraction = Annotated[float | None, _opt("--val-fraction", "Latest share of the training steps used to validate.")]
Seed = Annotated[
    int | None,
    typer.Option(
        "--seed", min=0, help="Seed of weights, shuffling and dropout (recorded for every model).", show_default=False
    ),
]
Threads = Annotated[int | None, _opt("--threads", "Torch CPU threads.")]
DModel = Annotated[int | None, _opt("--d-model", "Encoder width (transformer).")]
NHead = Annotated[int | None, _opt("--nhead", "Attention heads (transformer).")]
Layers = Annotated[int | None, _opt("--layers", "Encoder layers (transformer).")]
Ffn = Annotated[int | None, _opt("--ffn", "Feed-forward width (transformer).")]
Dropout = Annotated[float | None, _opt("--dropout", "Dropout in the encoder (transformer).")]
LogDelay = Annotated[
    bool | None, _opt("--log-delay", "Scale delay as log1p(ms) before standardising.", "--log-delay/--no-log-delay")
]
DelayWeight = Annotated[float | None, _opt("--delay-weight", "Weight of delay in the loss.")]
HuberDelay = Annotated[
    bool | None, _opt("--huber-delay", "Huber loss on delay (else squared error).", "--huber-delay/--no-huber-delay")
]
Residual = Annotated[
    bool | None, _opt("--residual", "Predict the change from the latest state.", "--residual/--no-residual")
]
ModelPath = Annotated[
    Path | None,
    typer.Option("--model-path", help="Local Hugging Face model folder (lm).", show_default=False),
]
LoraR = Annotated[int | None, _opt("--lora-r", "LoRA rank (lm).")]
LoraAlpha = Annotated[float | None, _opt("--lora-alpha", "LoRA alpha (lm).")]
LoraDropout = Annotated[float | None, _opt("--lora-dropout", "LoRA dropout (lm).")]
Alpha = Annotated[float | None, _opt("--alpha", "EWMA weight (ewma).")]
Span = Annotated[int | None, _opt("--span", "Rows averaged or fitted (sma, linear).")]
Params = Annotated[
    list[str] | None,
    typer.Option(
        "--param", metavar="NAME=VALUE", help="Any other hyper-parameter (VALUE read as JSON).", show_default=False
    ),
]


def _model_params(model: str, given: dict[str, object], extra: list[str] | None) -> dict[str, object]:
    """The hyper-parameters for ``model`` from the options given; options it lacks are errors."""
    import json

    from schedlab.errors import ConfigError, UnknownNameError
    from schedlab.learn.forecast.base import forecaster_class

    try:
        cls = forecaster_class(model)
    except UnknownNameError as e:
        raise UnknownNameError(e.problem, field="--model") from None
    accepted = set(cls.param_names())
    params: dict[str, object] = {}
    for flag, value in given.items():
        if value is None:
            continue
        name = MODEL_OPTIONS[flag]
        if name not in accepted:
            if flag in RUN_OPTIONS:
                continue
            raise ConfigError(f"model {model!r} takes no {flag}", field=flag)
        params[name] = str(value) if isinstance(value, Path) else value
    for item in extra or []:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise ConfigError(f"expected NAME=VALUE, got {item!r}", field="--param")
        if name not in accepted:
            raise ConfigError(f"model {model!r} has no hyper-parameter {name!r}", field="--param")
        if name in params:
            raise ConfigError(f"{name} is already set by {_OPTION_OF.get(name, '--param')}", field="--param")
        try:
            params[name] = json.loads(text)
        except json.JSONDecodeError:
            params[name] = text
    return params


def _build(model: str, params: dict[str, object]):
    from schedlab.errors import ConfigError
    from schedlab.learn.forecast import make_forecaster

    try:
        return make_forecaster(model, **params)
    except ConfigError as e:
        if e.field in _OPTION_OF and e.field in params:
            raise ConfigError(e.problem, field=_OPTION_OF[e.field]) from None
        raise ConfigError(e.problem, field=f"--param {e.field}" if e.field else "--param") from None


def _read_logs(path: Path):
    from schedlab.families.edge.nodes import read_node_logs

    return read_node_logs(path)


def _load_model(model_dir: Path):
    from schedlab.learn.forecast import load_forecaster

    return load_forecaster(model_dir)


def _with_source(e, source: Path):
    """The same error, naming the input file when it names none."""
    return type(e)(e.problem, source=e.source or str(source), field=e.field)


def _errors_table(
    title: str,
    columns: dict[str, dict[str, float]],
    reference: dict[str, dict[str, float]] | None = None,
    forecaster: str = "",
):
    """Per variable, MAE and RMSE of each column (one metrics dict per column).

    ``reference``: the same columns for the persistence forecaster (``last``), on a row of its
    own under the row of ``forecaster``.
    """
    from rich.table import Table

    from schedlab.report.format import fmt

    t = Table(title=title, header_style="bold")
    t.add_column("variable")
    if reference is not None:
        t.add_column("forecaster")
    for name in columns:
        t.add_column(f"MAE {name}", justify="right")
        t.add_column(f"RMSE {name}", justify="right")
    for var, unit in (("cpu", " (cores)"), ("mem", " (GB)"), ("delay", " (ms)"), ("load", "")):
        suffix = "_ms" if var == "delay" else ""
        rows = [("", columns)] if reference is None else [(forecaster, columns), ("last", reference)]
        for i, (who, cols) in enumerate(rows):
            row = [var + unit if i == 0 else ""] + ([who] if reference is not None else [])
            for m in cols.values():
                row += [fmt(m[f"{var}_mae{suffix}"]), fmt(m[f"{var}_rmse{suffix}"])]
            t.add_row(*row, style="dim" if who == "last" else None)
    return t


@edge_app.command("train", epilog=_defaults_text())
@fails_cleanly
def edge_train(
    input_file: Annotated[Path, typer.Option("--input", help="Node log CSV to learn from.", show_default=False)],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the model, metrics and predictions.")] = Path(
        "model_output"
    ),
    model: Annotated[
        str, typer.Option("--model", metavar="transformer|lm|ewma|sma|linear|last", help="The forecaster.")
    ] = "transformer",
    test_fraction: Annotated[
        float, typer.Option("--test-fraction", help="Latest share of the log's steps held out as the test tail.")
    ] = 0.2,
    window: Window = None,
    horizon: Horizon = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: Lr = None,
    weight_decay: WeightDecay = None,
    patience: Patience = None,
    val_fraction: ValFraction = None,
    seed: Seed = None,
    threads: Threads = None,
    d_model: DModel = None,
    nhead: NHead = None,
    layers: Layers = None,
    ffn: Ffn = None,
    dropout: Dropout = None,
    log_delay: LogDelay = None,
    delay_weight: DelayWeight = None,
    huber_delay: HuberDelay = None,
    residual: Residual = None,
    model_path: ModelPath = None,
    lora_r: LoraR = None,
    lora_alpha: LoraAlpha = None,
    lora_dropout: LoraDropout = None,
    alpha: Alpha = None,
    span: Span = None,
    param: Params = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Train a forecaster on node logs; score it on the held-out latest steps.

    Writes to OUT: forecaster.json and weights.safetensors (the model), metrics.json (1- and
    5-step errors on the test tail, training time), predictions.csv (predictions vs truth on the
    tail) and history.csv (per-epoch losses).
    """
    import os
    import shutil
    import tempfile
    import time

    from schedlab.errors import ConfigError, DataError
    from schedlab.learn.forecast.evaluate import evaluate, predict_log, slice_log, write_predictions_csv
    from schedlab.learn.forecast.evaluate import metrics as error_metrics
    from schedlab.sim.io import check_writable, plain_json

    check_writable(out_dir, folder=True)  # before the training, not after it
    given = {
        "--window": window,
        "--horizon": horizon,
        "--epochs": epochs,
        "--batch-size": batch_size,
        "--lr": lr,
        "--weight-decay": weight_decay,
        "--patience": patience,
        "--val-fraction": val_fraction,
        "--seed": seed,
        "--threads": threads,
        "--d-model": d_model,
        "--nhead": nhead,
        "--layers": layers,
        "--ffn": ffn,
        "--dropout": dropout,
        "--log-delay": log_delay,
        "--delay-weight": delay_weight,
        "--huber-delay": huber_delay,
        "--residual": residual,
        "--model-path": model_path,
        "--lora-r": lora_r,
        "--lora-alpha": lora_alpha,
        "--lora-dropout": lora_dropout,
        "--alpha": alpha,
        "--span": span,
    }
    forecaster = _build(model, _model_params(model, given, param))
    if not (0 < test_fraction < 1):
        raise ConfigError(f"must be in (0, 1), got {test_fraction}", field="--test-fraction")
    log = _read_logs(input_file)
    first_test = log.steps - int(round(test_fraction * log.steps))
    if log.steps - first_test < 5 or first_test < 2:
        raise DataError(
            f"node log too short: {log.steps} steps leave {first_test} to train on and {log.steps - first_test} "
            f"to test (at least 5 for the 5-step errors); give a longer log or change --test-fraction",
            source=str(input_file),
        )
    train_log = slice_log(log, 0, first_test)

    total = getattr(forecaster, "epochs", 1)
    with progress() as bar:
        task = bar.add_task(f"training {model}", total=total)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        try:
            forecaster.fit(train_log, progress=lambda frac: bar.update(task, completed=round(frac * total)))
        except DataError as e:
            problem = f"{e.problem}; training uses the first {first_test} of the log's {log.steps} steps"
            raise DataError(problem, source=str(input_file), field=e.field) from None
        train_wall, train_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    hist = getattr(forecaster, "history_", {}) or {}
    try:
        one = evaluate(forecaster, log, steps_ahead=1, start=first_test)
        preds = predict_log(forecaster, log, steps_ahead=5, start=first_test)
    except DataError as e:
        raise _with_source(e, input_file) from None
    five = error_metrics(preds.pred[:, -1], preds.true[:, -1]) | {"samples": int(preds.pred.shape[0])}
    # Persistence on the same tail: the error a forecaster must beat to be worth its training.
    reference = None
    if model != "last":
        persistence = _build("last", {}).fit(train_log)
        last_preds = predict_log(persistence, log, steps_ahead=5, start=first_test)
        reference = {
            "1": evaluate(persistence, log, steps_ahead=1, start=first_test),
            "5": error_metrics(last_preds.pred[:, -1], last_preds.true[:, -1]),
        }
    metrics: dict[str, object] = {
        "model": model,
        "seed": seed if seed is not None else getattr(forecaster, "seed", None),
    }
    metrics.update(one)
    metrics.update({f"{k}_5step": v for k, v in five.items()})
    del metrics["steps_ahead"]
    metrics.update(
        train_cpu_s=train_cpu,
        train_wall_s=train_wall,
        epochs_run=int(hist.get("epochs_run", 0)),
        best_epoch=int(hist.get("best_epoch", 0)),
        train_steps=first_test,
        test_steps=log.steps - first_test,
        test_first_step=first_test,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=".train-"))
    try:
        forecaster.save(tmp)
        (tmp / "metrics.json").write_text(plain_json(metrics))
        write_predictions_csv(tmp / "predictions.csv", preds)
        rows = ["epoch,train_loss,val_loss,best"]
        val = hist.get("val_loss", [])
        for i, loss in enumerate(hist.get("train_loss", []), start=1):
            v = val[i - 1] if i - 1 < len(val) else ""
            rows.append(f"{i},{loss:.6g},{v if v == '' else f'{v:.6g}'},{int(i == hist.get('best_epoch'))}")
        (tmp / "history.csv").write_text("\n".join(rows) + "\n")
        for f in sorted(tmp.iterdir()):
            os.replace(f, out_dir / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        vs = "" if model == "last" else " and persistence (last)"
        title = f"{model}{vs} on the last {log.steps - first_test} steps"
        out.print(_errors_table(title, {"1": one, "5": five}, reference, model))
        ran = f", {metrics['epochs_run']} epoch(s), best {metrics['best_epoch']}" if metrics["epochs_run"] else ""
        out.print(f"trained in {train_cpu:.1f} CPU s{ran}; wrote {out_dir}/")


@edge_app.command("evaluate")
@fails_cleanly
def edge_evaluate(
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Folder written by edge train.", show_default=False)],
    input_file: Annotated[Path, typer.Option("--input", help="Node log CSV to score on.", show_default=False)],
    metrics_json: Annotated[Path, typer.Option("--metrics-json", help="Write the metrics here.", show_default=False)],
    steps_ahead: Annotated[int, typer.Option("--steps-ahead", help="Which future state is scored.")] = 1,
    start: Annotated[
        int | None,
        typer.Option("--start", help="First predicted step.", show_default="30, or the model's window if longer"),
    ] = None,
    predictions_csv: Annotated[
        Path | None, typer.Option("--predictions-csv", help="Also write predictions vs truth.", show_default=False)
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Score a trained forecaster on other node logs: MAE and RMSE per variable, k steps ahead."""
    from schedlab.errors import ConfigError, DataError
    from schedlab.learn.forecast.evaluate import metrics as error_metrics
    from schedlab.learn.forecast.evaluate import predict_log, write_predictions_csv
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    for path in (metrics_json, predictions_csv):
        if path is not None:
            check_writable(path)  # before any work, so that no output is left without the other
    if steps_ahead < 1:
        raise ConfigError(f"must be at least 1, got {steps_ahead}", field="--steps-ahead")
    if start is not None and start < 1:
        raise ConfigError(f"must be at least 1, got {start}", field="--start")
    forecaster = _load_model(model_dir)
    log = _read_logs(input_file)
    try:
        preds = predict_log(forecaster, log, steps_ahead=steps_ahead, start=start)
    except DataError as e:
        raise _with_source(e, input_file) from None
    result: dict[str, object] = {"model": forecaster.name}
    result.update(error_metrics(preds.pred[:, -1], preds.true[:, -1]))
    result.update(steps_ahead=steps_ahead, samples=int(preds.pred.shape[0]), first_step=int(preds.origin.min()))
    write_atomic(metrics_json, plain_json(result).encode())
    if predictions_csv is not None:
        write_predictions_csv(predictions_csv, preds)
    if not quiet:
        out.print(_errors_table(f"{forecaster.name} on {input_file.name}", {f"{steps_ahead}-step": result}))
        out.print(
            f"{result['samples']} samples; wrote {metrics_json}" + (f", {predictions_csv}" if predictions_csv else "")
        )


@edge_app.command("infer")
@fails_cleanly
def edge_infer(
    model_dir: Annotated[Path, typer.Option("--model-dir", help="Folder written by edge train.", show_default=False)],
    input_file: Annotated[
        Path, typer.Option("--input", help="Node log CSV whose end is the history.", show_default=False)
    ],
    node_id: Annotated[int, typer.Option("--node-id", help="Node to forecast.", show_default=False)],
    steps_ahead: Annotated[int, typer.Option("--steps-ahead", help="Future states to predict.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Predict one node's next states from the end of a node log."""
    import json

    import numpy as np
    from rich.table import Table

    from schedlab.errors import ConfigError, DataError

    if steps_ahead < 1:
        raise ConfigError(f"must be at least 1, got {steps_ahead}", field="--steps-ahead")
    forecaster = _load_model(model_dir)
    log = _read_logs(input_file)
    if node_id not in log.node_ids:
        ids = log.node_ids
        span = f"{ids[0]}..{ids[-1]}" if len(ids) > 3 else ", ".join(map(str, ids))
        raise DataError(
            f"node {node_id} is not in the log (its nodes: {span})", source=str(input_file), field="--node-id"
        )
    col = log.node_ids.index(node_id)
    window = max(1, int(getattr(forecaster, "window", 1)))
    history = log.values[-window:, col][None]
    pred = forecaster.predict(history, np.array([node_id]), steps=steps_ahead)[0]
    interval = float(np.median(np.diff(log.time_s))) if log.steps > 1 else 0.0
    rows = [
        {
            "step": log.steps + h,
            "time_s": round(float(log.time_s[-1]) + (h + 1) * interval, 9),
            **{v: float(pred[h, j]) for j, v in enumerate(("cpu", "mem", "delay_ms", "load"))},
        }
        for h in range(steps_ahead)
    ]
    if as_json:
        doc = {"model": forecaster.name, "node_id": node_id, "last_step": log.steps - 1, "predictions": rows}
        out.print_json(json.dumps(doc))
        return
    t = Table(title=f"{forecaster.name}: node {node_id} after step {log.steps - 1}", header_style="bold")
    for name in ("step", "time (s)", "cpu (cores)", "mem (GB)", "delay (ms)", "load"):
        t.add_column(name, justify="right")
    last = log.values[-1, col]
    t.add_row("last", f"{float(log.time_s[-1]):g}", *(f"{v:.3f}" for v in (last[0], last[1])), f"{last[2]:.2f}",
              f"{last[3]:.3f}")  # fmt: skip
    for r in rows:
        t.add_row(str(r["step"]), f"{r['time_s']:g}", f"{r['cpu']:.3f}", f"{r['mem']:.3f}", f"{r['delay_ms']:.2f}",
                  f"{r['load']:.3f}")  # fmt: skip
    out.print(t)
