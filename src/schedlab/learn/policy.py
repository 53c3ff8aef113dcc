"""A learned policy on disk: a directory that any command takes as a scheduler.

A policy directory holds two files:

``policy.json``
    ``{"format": "schedlab-policy/1", "algorithm": "ppo", "family": "multiproc",
    "architecture": {...}, "observation": {...}, "training": {...}, "schedlab_version": "..."}``:
    what the network is, how it observes (the environment settings and the training scenario
    whose normalisation it learned with), and how it was trained (scenario, training and
    validation seeds, steps, the command).
``weights.safetensors``
    The network's tensors. Nothing is ever unpickled.

:func:`load_policy_scheduler` turns a directory into a scheduler: the algorithm named in
``policy.json`` picks the class (see :data:`POLICY_SCHEDULERS`). On the command line a path
with a ``/`` in it is read as a policy directory (``-s runs/ppo``), and a registered learned
scheduler takes one with ``--param model=DIR``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from schedlab.errors import ConfigError, DataError

__all__ = [
    "FORMAT",
    "POLICY_FILE",
    "WEIGHTS_FILE",
    "POLICY_SCHEDULERS",
    "save_policy",
    "read_card",
    "read_tensors",
    "read_arrays",
    "write_tensors",
    "load_policy_scheduler",
    "is_policy_dir",
    "policy_path",
]

FORMAT = "schedlab-policy/1"
POLICY_FILE = "policy.json"
WEIGHTS_FILE = "weights.safetensors"

#: Algorithm -> ``"module:Class"`` of the scheduler that runs its policies. The class takes
#: ``model=DIR`` and reads its family from the card.
POLICY_SCHEDULERS: dict[str, str] = {
    "ppo": "schedlab.learn.sb3:SB3PolicyScheduler",
    "dqn": "schedlab.learn.sb3:SB3PolicyScheduler",
    "decima": "schedlab.learn.decima.scheduler:DecimaScheduler",
    "gnn-cost": "schedlab.learn.gnn_cost.scheduler:GnnCostScheduler",
    "netllm": "schedlab.learn.netllm.scheduler:NetLLMScheduler",
}

_CARD_FIELDS = ("algorithm", "family", "architecture", "observation", "training")


def policy_path(model: str | os.PathLike) -> Path:
    """The directory of a policy: ``model`` itself, or the policy shipped under that name.

    Shipped policies live in the package, in ``schedlab/learn/policies/NAME``.

    Raises:
        DataError: ``model`` is neither a policy directory nor a shipped policy's name.
    """
    path = Path(model)
    if (path / POLICY_FILE).is_file():
        return path
    if path.name == str(model) and path.name:
        from importlib import resources

        shipped = Path(str(resources.files("schedlab.learn") / "policies" / path.name))
        if (shipped / POLICY_FILE).is_file():
            return shipped
    raise DataError(
        "no policy here: neither a directory with policy.json nor a shipped policy's name", source=str(model)
    )


def is_policy_dir(name: str) -> bool:
    """True if ``name`` reads as a policy directory: a path (it has a ``/``) holding ``policy.json``."""
    return ("/" in name or os.sep in name) and (Path(name) / POLICY_FILE).is_file()


def save_policy(directory: str | os.PathLike, tensors: Mapping[str, Any], card: Mapping[str, Any]) -> Path:
    """Write a policy directory: ``weights.safetensors`` and ``policy.json``, replacing both at once.

    The files are written into a temporary directory beside ``directory`` and moved in, so a
    reader never sees new weights with an old card.

    Args:
        directory: Where the policy goes (created; its ``policy.json`` and weights replaced).
        tensors: Name -> torch tensor.
        card: ``algorithm``, ``family``, ``architecture``, ``observation``, ``training``.

    Raises:
        ValueError: The card misses one of those fields.
    """
    import schedlab

    missing = [k for k in _CARD_FIELDS if k not in card]
    if missing:
        raise ValueError(f"a policy card needs {', '.join(missing)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, **{k: card[k] for k in _CARD_FIELDS}, "schedlab_version": schedlab.__version__}
    doc.update({k: v for k, v in card.items() if k not in doc})
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".policy."))
    try:
        write_tensors(staging / WEIGHTS_FILE, tensors, f"{FORMAT}/{card['algorithm']}")
        (staging / POLICY_FILE).write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
        # Weights first: a card always describes weights already in place.
        os.replace(staging / WEIGHTS_FILE, directory / WEIGHTS_FILE)
        os.replace(staging / POLICY_FILE, directory / POLICY_FILE)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


def write_tensors(path: Path, tensors: Mapping[str, Any], fmt: str) -> None:
    """Write tensors as safetensors at ``path`` with the usual file mode, atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    flat = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    # One metadata key: the writer orders keys by hash, so two would make same-seed files differ.
    save_file(flat, str(tmp), metadata={"format": fmt})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # the writer makes the file private; give it the usual mode
    os.replace(tmp, path)


def read_card(directory: str | os.PathLike, *, algorithm: str | None = None, family: str | None = None) -> dict:
    """Read and check a policy directory's ``policy.json``.

    Args:
        directory: The policy directory.
        algorithm: If given, the card must name this algorithm.
        family: If given, the card must name this family.

    Raises:
        DataError: The directory or card is missing or malformed, or names another
            algorithm or family.
    """
    directory = Path(directory)
    path = directory / POLICY_FILE
    if not directory.is_dir():
        raise DataError("no such directory: not a policy directory", source=str(directory))
    if not path.is_file():
        raise DataError(f"no {POLICY_FILE} here: not a policy directory", source=str(directory))
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"not valid JSON ({e})", source=str(path)) from None
    if not isinstance(doc, dict):
        raise DataError("expected a JSON object", source=str(path))
    if doc.get("format") != FORMAT:
        raise DataError(f"expected {FORMAT!r}, got {doc.get('format')!r}", source=str(path), field="format")
    for key in _CARD_FIELDS:
        if key not in doc:
            raise DataError("missing", source=str(path), field=key)
    for key in ("algorithm", "family"):
        if not isinstance(doc[key], str):
            raise DataError("expected a string", source=str(path), field=key)
    for key in ("architecture", "observation", "training"):
        if not isinstance(doc[key], dict):
            raise DataError("expected an object", source=str(path), field=key)
    if algorithm is not None and doc["algorithm"] != algorithm:
        raise DataError(f"a {doc['algorithm']} policy, not a {algorithm} one", source=str(path), field="algorithm")
    if family is not None and doc["family"] != family:
        raise DataError(f"trained for {doc['family']}, not for {family}", source=str(path), field="family")
    return doc


def read_tensors(path: str | os.PathLike, expected: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read a safetensors file; with ``expected`` (name -> tensor), check names and shapes.

    Raises:
        DataError: The file is missing or not safetensors, or does not fit ``expected``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file: the weights are missing", source=str(path))
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise DataError(f"not a safetensors file ({e})", source=str(path)) from None
    if expected is not None:
        missing = sorted(set(expected) - set(tensors))
        unknown = sorted(set(tensors) - set(expected))
        if missing or unknown:
            what = f"missing tensors {missing[:3]}" if missing else f"unexpected tensors {unknown[:3]}"
            raise DataError(f"weights do not fit the network: {what}", source=str(path))
        for k, v in tensors.items():
            want = tuple(expected[k].shape)
            if tuple(v.shape) != want:
                raise DataError(f"tensor {k} has shape {tuple(v.shape)}, the network expects {want}", source=str(path))
    for k, v in tensors.items():
        if v.is_floating_point() and not bool(v.isfinite().all()):
            # A trained policy never holds them; every decision would come from NaN scores.
            raise DataError(f"tensor {k} holds NaN or infinite values: the file is damaged", source=str(path))
    return tensors


#: safetensors dtype -> NumPy dtype (little-endian), for :func:`read_arrays`.
_NUMPY_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def read_arrays(path: str | os.PathLike) -> dict[str, Any]:
    """Read a safetensors file into NumPy arrays, with NumPy alone (no torch, no safetensors).

    The format is an 8-byte little-endian header length, a JSON header naming each tensor's
    dtype, shape and byte range, then the bytes; so a policy that infers in NumPy (Decima)
    runs on a core install.

    Raises:
        DataError: The file is missing, not safetensors, or holds a dtype NumPy lacks (bf16).
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file: the weights are missing", source=str(path))
    data = path.read_bytes()
    try:
        size = int.from_bytes(data[:8], "little")
        if len(data) < 8 or size > len(data) - 8:
            raise ValueError("the header runs past the end of the file")
        header = json.loads(data[8 : 8 + size])
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        body = memoryview(data)[8 + size :]
        out = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            dtype = _NUMPY_DTYPES.get(info["dtype"])
            if dtype is None:
                raise ValueError(f"tensor {name} has dtype {info['dtype']}, which NumPy cannot read")
            begin, end = (int(v) for v in info["data_offsets"])
            shape = tuple(int(d) for d in info["shape"])
            array = np.frombuffer(body[begin:end], dtype=dtype)
            out[name] = array.reshape(shape).copy()
            if array.dtype.kind == "f" and not np.isfinite(out[name]).all():
                # A trained policy never holds them; every decision would come from NaN scores.
                raise DataError(f"tensor {name} holds NaN or infinite values: the file is damaged", source=str(path))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"not a safetensors file ({e})", source=str(path)) from None
    return out


def load_policy_scheduler(directory: str | os.PathLike, family: str | None = None) -> Any:
    """The scheduler that runs the policy in ``directory``.

    Args:
        directory: A policy directory.
        family: If given, the policy must have been trained for this family.

    Raises:
        DataError: The directory is not a valid policy, or is for another family.
        ConfigError: No scheduler runs policies of its algorithm.
    """
    from schedlab.plugins import resolve

    card = read_card(directory, family=family)
    target = POLICY_SCHEDULERS.get(card["algorithm"])
    if target is None:
        known = ", ".join(POLICY_SCHEDULERS)
        raise ConfigError(
            f"no scheduler runs {card['algorithm']!r} policies (known: {known})",
            source=str(Path(directory) / POLICY_FILE),
            field="algorithm",
        )
    try:
        return resolve(target)(model=str(directory))
    except (KeyError, TypeError, AttributeError, IndexError) as e:
        # Everything the scheduler builds comes from policy.json; a key it lacks or a value of
        # the wrong kind is a damaged card, not a bug of the scheduler.
        what = f"missing {e}" if isinstance(e, KeyError) else str(e)
        card_path = str(Path(directory) / POLICY_FILE)
        raise DataError(f"cannot build the policy from it ({what})", source=card_path) from None
