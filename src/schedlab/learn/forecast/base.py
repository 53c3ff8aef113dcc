"""The forecaster interface, the registry of forecasters, and saving them without pickle.

A forecaster follows scikit-learn's convention: hyper-parameters are constructor arguments
(``get_params`` returns them), ``fit`` learns from a :class:`~schedlab.families.edge.nodes.NodeLog`
and returns ``self``, and ``predict`` maps a window of history to the next states.

Shapes: ``history`` is ``(nodes, w, 4)`` in raw units, oldest first, with the columns of
:data:`~schedlab.families.edge.nodes.STATE_COLUMNS` (cpu, mem, delay, load); ``w >= 1``. A
forecaster that needs exactly ``window`` rows pads a shorter history at the front by repeating
its oldest row and keeps only the newest ``window`` rows of a longer one. ``node_ids`` are the
nodes' ids in the log the history comes from; ids never seen in training are allowed (the
forecaster treats them as an unknown node). ``predict`` returns ``(nodes, steps, 4)`` in raw
units.

On disk a forecaster is a folder: ``forecaster.json`` (``{"model": name, "params": {...},
"state": {...}, "weights_sha256": ...}``) plus, for neural models, ``weights.safetensors``, whose
digest loading checks. Loading reads JSON and safetensors only; nothing is unpickled.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from schedlab.errors import ConfigError, DataError, UnknownNameError

__all__ = [
    "Forecaster",
    "FORECASTERS",
    "make_forecaster",
    "forecaster_class",
    "load_forecaster",
    "pad_history",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
]

CONFIG_FILE = "forecaster.json"
WEIGHTS_FILE = "weights.safetensors"

#: Forecaster name -> "module:Class". Modules import lazily, so torch loads only for neural ones.
FORECASTERS: dict[str, str] = {
    "last": "schedlab.learn.forecast.baselines:LastValue",
    "sma": "schedlab.learn.forecast.baselines:MovingAverage",
    "ewma": "schedlab.learn.forecast.baselines:EWMA",
    "linear": "schedlab.learn.forecast.baselines:LinearTrend",
    "transformer": "schedlab.learn.forecast.transformer:TransformerForecaster",
    "lm": "schedlab.learn.forecast.lm:LMForecaster",
}


class Forecaster:
    """Base class: predicts each node's next states from a window of its history.

    Subclasses set ``name``, take their hyper-parameters as keyword arguments of ``__init__``
    (stored under the same attribute names), and implement :meth:`fit` and :meth:`predict`.
    Learned state that is not a tensor goes in :meth:`state_dict` / :meth:`load_state` (JSON
    values); tensors go in :meth:`save_weights` / :meth:`load_weights`.
    """

    name: ClassVar[str] = ""
    #: History rows the forecaster uses (1 for last value).
    window: int = 1

    def fit(self, log, *, progress: Callable[[float], None] | None = None) -> Forecaster:
        """Learn from node logs; return ``self``. Baselines without parameters learn nothing."""
        return self

    def predict(self, history: np.ndarray, node_ids: np.ndarray, steps: int = 1) -> np.ndarray:
        """The next ``steps`` states of each node, shape ``(nodes, steps, 4)``."""
        raise NotImplementedError

    # -- scikit-learn-like parameters ----------------------------------------------------------

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same names.

        A constructor that takes ``**shared`` passes them on to its parent's, so the parent's
        named arguments count too (a subclass adds its own and forwards the rest).
        """
        return {p: getattr(self, p) for p in type(self).param_names()}

    @classmethod
    def param_names(cls) -> list[str]:
        """Names of the hyper-parameters the constructor takes (see :meth:`get_params`)."""
        names: list[str] = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            params = inspect.signature(init).parameters.values()
            names += [
                p.name
                for p in params
                if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in names
            ]
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                break
        return names

    def state_dict(self) -> dict[str, Any]:
        """Learned state that is not a tensor, as JSON values."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def save_weights(self, path: Path) -> None:
        """Write learned tensors to ``path`` (safetensors); nothing for models without any."""

    def load_weights(self, path: Path) -> None:
        """Read what :meth:`save_weights` wrote."""

    # -- disk ----------------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike) -> Path:
        """Write the forecaster to ``folder`` (created if needed); return the folder."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"model": self.name, "params": self.get_params(), "state": self.state_dict()}
        self.save_weights(folder / WEIGHTS_FILE)
        if (folder / WEIGHTS_FILE).is_file():
            # A damaged or edited weights file can still be valid safetensors of the right
            # shapes; only its digest tells, and loading checks it.
            doc["weights_sha256"] = hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()
        tmp = folder / (CONFIG_FILE + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, folder / CONFIG_FILE)
        return folder


def forecaster_class(name: str) -> type[Forecaster]:
    """The class registered as ``name`` (imported on demand).

    Raises:
        UnknownNameError: ``name`` is not registered (the message suggests the closest name).
    """
    return _class(name)


def make_forecaster(name: str, **params: Any) -> Forecaster:
    """Build the forecaster registered as ``name`` with the given hyper-parameters.

    Raises:
        UnknownNameError: ``name`` is not registered (the message suggests the closest name).
    """
    return _class(name)(**params)


def load_forecaster(folder: str | os.PathLike) -> Forecaster:
    """Load a forecaster written by :meth:`Forecaster.save`.

    Raises:
        DataError: The folder or its files are missing or malformed.
    """
    folder = Path(folder)
    cfg = folder / CONFIG_FILE
    if not cfg.is_file():
        raise DataError(f"no {CONFIG_FILE} here: not a saved forecaster", source=str(folder))
    from schedlab.scenarios.files import parse_json, read_text

    text = read_text(cfg, what="forecaster config (JSON)", error=DataError)
    doc = parse_json(text, source=str(cfg), error=DataError, malformed="not valid JSON")
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), str):
        raise DataError("expected an object with a string 'model'", source=str(cfg), field="model")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise DataError("expected an object", source=str(cfg), field="params")
    try:
        model = make_forecaster(doc["model"], **params)
    except UnknownNameError as e:
        raise DataError(e.problem, source=str(cfg), field="model") from None
    except ConfigError as e:
        raise DataError(e.problem, source=str(cfg), field=f"params.{e.field}" if e.field else "params") from None
    except TypeError as e:
        problem = f"parameters do not fit model {doc['model']!r} ({e})"
        raise DataError(problem, source=str(cfg), field="params") from None
    state = doc.get("state", {})
    if not isinstance(state, dict):
        raise DataError(f"expected an object, got {type(state).__name__}", source=str(cfg), field="state")
    try:
        model.load_state(state)
    except DataError as e:
        raise DataError(e.problem, source=str(cfg), field=e.field) from None
    digest = doc.get("weights_sha256")
    weights = folder / WEIGHTS_FILE
    if digest is not None and weights.is_file() and hashlib.sha256(weights.read_bytes()).hexdigest() != digest:
        raise DataError(
            f"{WEIGHTS_FILE} is not the file this forecaster saved (its SHA-256 differs): damaged or replaced",
            source=str(weights),
        )
    model.load_weights(weights)
    return model


def _class(name: str) -> type[Forecaster]:
    target = FORECASTERS.get(name)
    if target is None:
        import difflib

        close = difflib.get_close_matches(name, FORECASTERS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; choose one of {', '.join(FORECASTERS)}"
        raise UnknownNameError(f"unknown forecaster {name!r}{hint}", field="model")
    module, _, cls = target.partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ModuleNotFoundError as e:
        # The neural forecasters need the learn extra; say so in one line instead of a traceback.
        if e.name is None or e.name.split(".")[0] == "schedlab":
            raise
        raise ConfigError(
            f"forecaster {name!r} needs {e.name}: pip install torch==2.13.0, then pip install 'schedlab[learn]'",
            field="model",
        ) from None


def pad_history(history: np.ndarray, window: int) -> np.ndarray:
    """Keep the newest ``window`` rows of ``(nodes, w, 4)``; pad a short one with its oldest row."""
    w = history.shape[1]
    if w >= window:
        return history[:, w - window :]
    front = np.repeat(history[:, :1], window - w, axis=1)
    return np.concatenate([front, history], axis=1)
