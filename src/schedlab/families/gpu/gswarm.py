"""GSwarm GPU-workflow workloads: system configs and request files, read as GSwarm writes them.

A *system config* (YAML or JSON) has ``models`` (key -> name, memory_gb, gpus_required,
load_time_seconds, and either tokens_per_second with token_mean/token_std or
inference_time_mean/std) and ``workflows`` (key -> name, ``nodes`` of id and model, ``edges``
of from and to). A *requests file* (YAML or JSON) has a ``requests`` list of request_id,
timestamp (ISO text, a YAML date-time, or seconds), workflow_id, node_configs and
node_execution_times (seconds per node id). Both formats are GSwarm's, unchanged.

Everything that would keep a run from finishing is rejected here, before any simulation, with
a :class:`~schedlab.errors.DataError` naming the file, the field and the problem: an edge
naming a node that does not exist, a cycle, a request for an unknown workflow, and (in
:func:`check_fits`) a model needing more GPUs than the cluster has. GSwarm itself silently
drops such requests from its metrics or never runs such a model.

When no files are given, :func:`default_config` and :func:`generate_requests` provide a small
built-in workload. The same module writes and reads GSwarm's JSON *execution log*
(:func:`execution_log`, :func:`trace_from_execution_log`), so ``schedlab check`` accepts it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from schedlab.errors import DataError

if TYPE_CHECKING:
    from schedlab.sim.trace import Trace

__all__ = [
    # the data
    "ModelSpec",
    "WorkflowNode",
    "Workflow",
    "SystemConfig",
    "WorkflowRequest",
    # reading and checking
    "load_config",
    "load_requests",
    "parse_config",
    "parse_requests",
    "check_fits",
    "arrival_offsets",
    "execution_time_table",
    # the built-in workload
    "default_config",
    "generate_requests",
    # the execution log
    "LOG_TRACE_KEY",
    "execution_log",
    "write_execution_log",
    "trace_from_execution_log",
]

#: Key of the execution log under which the schedlab trace (less its task table, which the
#: executions carry) is embedded, so that the log converts back to the trace losslessly.
LOG_TRACE_KEY = "schedlab_trace"


# -- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One model of a system config.

    Attributes:
        key: The config's key for the model (GSwarm's ``model_name``), e.g. ``"llm7b"``.
        name: Display name, e.g. ``"LLM-7B"``.
        memory_gb: Size in GB, moved over PCIe when the model is switched in or out.
        gpus_required: Consecutive GPUs the model runs on.
        load_time_s: Seconds to load the model onto a GPU that has never held one.
        tokens_per_second: Generation speed (LLMs).
        token_mean: Mean tokens generated per call (LLMs).
        token_std: Standard deviation of the tokens per call.
        inference_time_mean: Mean seconds per call (other models).
        inference_time_std: Standard deviation of the seconds per call.
        type: GSwarm's model type, if given (``llm``, ``embedding``, ``image_generation``, ...).
    """

    key: str
    name: str
    memory_gb: float
    gpus_required: int
    load_time_s: float
    tokens_per_second: float | None = None
    token_mean: float | None = None
    token_std: float | None = None
    inference_time_mean: float | None = None
    inference_time_std: float | None = None
    type: str | None = None

    @property
    def can_estimate(self) -> bool:
        """Whether the model's fields give an execution-time estimate."""
        return self.inference_time_mean is not None or (
            self.tokens_per_second is not None and self.token_mean is not None
        )

    def sample_execution_time(self, rng: np.random.Generator) -> float:
        """Draw one call's execution time (seconds) from the model's fields.

        A measured ``inference_time_mean`` (with its std) is used when present; otherwise a
        token count drawn from ``token_mean``/``token_std`` divided by ``tokens_per_second``.
        Normal draws are cut below at a tenth of the mean (and one token), so that a wide
        spread never yields a zero or negative time.

        Raises:
            DataError: The model has neither kind of estimate.
        """
        if self.inference_time_mean is not None:
            mean, std = self.inference_time_mean, self.inference_time_std or 0.0
            return float(max(rng.normal(mean, std) if std > 0 else mean, 0.1 * mean))
        if self.tokens_per_second is not None and self.token_mean is not None:
            mean, std = self.token_mean, self.token_std or 0.0
            tokens = max(rng.normal(mean, std) if std > 0 else mean, 0.1 * mean, 1.0)
            return float(tokens / self.tokens_per_second)
        raise DataError(
            "cannot estimate an execution time: give inference_time_mean, or tokens_per_second and token_mean",
            field=f"models.{self.key}",
        )


@dataclass(frozen=True)
class WorkflowNode:
    """One node of a workflow: a call to a model.

    Attributes:
        id: Node id, unique in its workflow.
        model: Key of the model it calls.
        parents: Indices (into the workflow's nodes) of the nodes it waits for, ascending.
        children: Indices of the nodes waiting for it, ascending.
        inputs: Names of its inputs (informational).
        outputs: Names of its outputs (informational).
    """

    id: str
    model: str
    parents: tuple[int, ...] = ()
    children: tuple[int, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workflow:
    """A DAG of model calls, its nodes in the config's order (their index is their stage)."""

    id: str
    name: str
    nodes: tuple[WorkflowNode, ...]

    def index(self, node_id: str) -> int:
        """Position of a node by id.

        Raises:
            KeyError: No such node.
        """
        for i, n in enumerate(self.nodes):
            if n.id == node_id:
                return i
        raise KeyError(node_id)


@dataclass(frozen=True)
class SystemConfig:
    """Models and workflows of one system config.

    Attributes:
        models: Model key -> spec, in the file's order.
        workflows: Workflow id -> workflow, in the file's order.
        source: The file it came from, or ``"built-in"``.
    """

    models: dict[str, ModelSpec]
    workflows: dict[str, Workflow]
    source: str = "built-in"


@dataclass(frozen=True)
class WorkflowRequest:
    """One request: a run of a workflow.

    Attributes:
        request_id: The file's id, e.g. ``"req_0001"``.
        workflow_id: The workflow it runs.
        timestamp: When it was issued: a datetime, or seconds on any fixed origin.
        node_execution_times: Seconds per node id, where the file gives them.
        node_configs: Per node id, its call options (kept for a live model server).
        input_data: The request's inputs (kept for a live model server).
    """

    request_id: str
    workflow_id: str
    timestamp: dt.datetime | float
    node_execution_times: dict[str, float] = field(default_factory=dict)
    node_configs: dict[str, Any] = field(default_factory=dict)
    input_data: dict[str, Any] = field(default_factory=dict)


# -- reading ----------------------------------------------------------------------------------


def load_config(path: str | os.PathLike) -> SystemConfig:
    """Read and validate a system config (YAML, or JSON by a ``.json`` suffix).

    Raises:
        DataError: The file is missing or malformed, or a workflow cannot run (an edge naming
            a node that does not exist, a cycle, an unknown model); the message names the
            file and the field.
    """
    p = Path(path)
    key = _file_key(p)
    return _load_config_cached(*key)


def load_requests(path: str | os.PathLike, config: SystemConfig) -> list[WorkflowRequest]:
    """Read a requests file and check it against ``config``.

    Raises:
        DataError: The file is missing or malformed, a request names an unknown workflow, or
            an execution time names an unknown node or is not a non-negative number.
    """
    p = Path(path)
    requests = _load_requests_cached(*_file_key(p))
    _check_requests(requests, config, str(p))
    return list(requests)


def _file_key(p: Path) -> tuple[str, int, int]:
    # Parsed files are cached by path, size and modification time: a comparison grid loads
    # the same 1000-request YAML once per seed otherwise, and parsing it costs more than a run.
    try:
        st = p.stat()
    except OSError:
        raise DataError("no such file", source=str(p)) from None
    if not p.is_file():
        raise DataError("not a file", source=str(p))
    return str(p), st.st_mtime_ns, st.st_size


@lru_cache(maxsize=8)
def _load_config_cached(path: str, mtime_ns: int, size: int) -> SystemConfig:
    return parse_config(_read_document(Path(path)), source=path)


@lru_cache(maxsize=8)
def _load_requests_cached(path: str, mtime_ns: int, size: int) -> tuple[WorkflowRequest, ...]:
    return tuple(parse_requests(_read_document(Path(path)), source=path))


def _read_document(p: Path) -> Any:
    from schedlab.scenarios.files import load_document

    return load_document(p, what="GSwarm file (YAML or JSON)", error=DataError)


def parse_config(doc: Any, *, source: str = "built-in") -> SystemConfig:
    """Validate a system config already parsed from YAML or JSON.

    Raises:
        DataError: A field is missing or invalid, or a workflow cannot run.
    """
    if not isinstance(doc, dict):
        raise DataError("expected a mapping with 'models' and 'workflows'", source=source)
    models_doc = _mapping(doc, "models", source, "")
    workflows_doc = _mapping(doc, "workflows", source, "")
    models = {str(k): _parse_model(str(k), v, source) for k, v in models_doc.items()}
    workflows = {str(k): _parse_workflow(str(k), v, models, source) for k, v in workflows_doc.items()}
    return SystemConfig(models=models, workflows=workflows, source=source)


def _mapping(doc: dict, key: str, source: str, prefix: str) -> dict:
    value = doc.get(key)
    where = f"{prefix}{key}"
    if value is None:
        raise DataError("missing", source=source, field=where)
    if not isinstance(value, dict):
        raise DataError(f"expected a mapping, got {type(value).__name__}", source=source, field=where)
    return value


#: Largest number a GSwarm file may hold (GB, seconds, tokens): beyond it the times of a run
#: lose their resolution, and no model or request of this world comes near it.
_MAX_NUMBER = 1e12


def _number(doc: dict, key: str, source: str, where: str, *, required: bool, positive: bool = False):
    value = doc.get(key)
    if value is None:
        if required:
            raise DataError("missing", source=source, field=f"{where}.{key}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"expected a number, got {value!r}", source=source, field=f"{where}.{key}")
    if value < 0 or (positive and value == 0):
        need = "a positive" if positive else "a non-negative"
        raise DataError(f"expected {need} number, got {value!r}", source=source, field=f"{where}.{key}")
    if value > _MAX_NUMBER:
        raise DataError(f"expected at most {_MAX_NUMBER:g}, got {value!r}", source=source, field=f"{where}.{key}")
    return float(value)


def _parse_model(key: str, doc: Any, source: str) -> ModelSpec:
    where = f"models.{key}"
    if not isinstance(doc, dict):
        raise DataError(f"expected a mapping, got {type(doc).__name__}", source=source, field=where)
    gpus = doc.get("gpus_required")
    if gpus is None:
        raise DataError("missing", source=source, field=f"{where}.gpus_required")
    if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
        raise DataError(f"expected a whole number >= 1, got {gpus!r}", source=source, field=f"{where}.gpus_required")
    spec = ModelSpec(
        key=key,
        name=str(doc.get("name", key)),
        memory_gb=_number(doc, "memory_gb", source, where, required=True),
        gpus_required=gpus,
        load_time_s=_number(doc, "load_time_seconds", source, where, required=True),
        tokens_per_second=_number(doc, "tokens_per_second", source, where, required=False, positive=True),
        token_mean=_number(doc, "token_mean", source, where, required=False),
        token_std=_number(doc, "token_std", source, where, required=False),
        inference_time_mean=_number(doc, "inference_time_mean", source, where, required=False),
        inference_time_std=_number(doc, "inference_time_std", source, where, required=False),
        type=_text(doc, "type", source, where),
    )
    return spec


def _text(doc: dict, key: str, source: str, where: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"expected text, got {value!r}", source=source, field=f"{where}.{key}")
    return value


def _parse_workflow(wid: str, doc: Any, models: dict[str, ModelSpec], source: str) -> Workflow:
    where = f"workflows.{wid}"
    if not isinstance(doc, dict):
        raise DataError(f"expected a mapping, got {type(doc).__name__}", source=source, field=where)
    nodes_doc = doc.get("nodes")
    if not isinstance(nodes_doc, list) or not nodes_doc:
        raise DataError("expected a non-empty list of nodes", source=source, field=f"{where}.nodes")
    ids: list[str] = []
    node_models: list[str] = []
    io: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for i, nd in enumerate(nodes_doc):
        nw = f"{where}.nodes[{i}]"
        if not isinstance(nd, dict):
            raise DataError(f"expected a mapping, got {type(nd).__name__}", source=source, field=nw)
        nid, model = nd.get("id"), nd.get("model")
        if not isinstance(nid, str) or not nid:
            raise DataError(f"expected a node id (text), got {nid!r}", source=source, field=f"{nw}.id")
        if nid in ids:
            raise DataError(f"duplicate node id {nid!r}", source=source, field=f"{nw}.id")
        if model not in models:
            raise DataError(
                f"unknown model {model!r}{_did_you_mean(model, models)}; the config defines {', '.join(models)}",
                source=source,
                field=f"{nw}.model",
            )
        ids.append(nid)
        node_models.append(model)
        io.append((_names(nd.get("inputs")), _names(nd.get("outputs"))))
    edges_doc = doc.get("edges") or []
    if not isinstance(edges_doc, list):
        raise DataError("expected a list of edges", source=source, field=f"{where}.edges")
    parents: list[set[int]] = [set() for _ in ids]
    index = {nid: i for i, nid in enumerate(ids)}
    for j, e in enumerate(edges_doc):
        ew = f"{where}.edges[{j}]"
        if not isinstance(e, dict):
            raise DataError(f"expected a mapping with 'from' and 'to', got {e!r}", source=source, field=ew)
        ends = []
        for end in ("from", "to"):
            name = e.get(end)
            if name not in index:
                raise DataError(
                    f"names no node of workflow {wid!r}: {name!r}{_node_hint(name, ids, io)}; "
                    f"its nodes are {', '.join(ids)}",
                    source=source,
                    field=f"{ew}.{end}",
                )
            ends.append(index[name])
        parents[ends[1]].add(ends[0])
    cycle = _find_cycle(parents)
    if cycle:
        path = " -> ".join(ids[i] for i in cycle)
        raise DataError(
            f"the edges form a cycle ({path}); a workflow must be a DAG", source=source, field=f"{where}.edges"
        )
    children: list[list[int]] = [[] for _ in ids]
    for child, ps in enumerate(parents):
        for p in ps:
            children[p].append(child)
    nodes = tuple(
        WorkflowNode(
            id=ids[i],
            model=node_models[i],
            parents=tuple(sorted(parents[i])),
            children=tuple(sorted(children[i])),
            inputs=io[i][0],
            outputs=io[i][1],
        )
        for i in range(len(ids))
    )
    return Workflow(id=wid, name=str(doc.get("name", wid)), nodes=nodes)


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _did_you_mean(name: Any, choices) -> str:
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _node_hint(name: Any, ids: list[str], io: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> str:
    # GSwarm's complex config has an edge from "performance_report", the *output* of node
    # "performance_analysis": point at the node that produces a name used as a node id.
    producers = [ids[i] for i, (_, outs) in enumerate(io) if name in outs]
    if producers:
        return f" (that is an output of node {producers[0]!r}; did you mean {producers[0]!r}?)"
    return _did_you_mean(name, ids)


def _find_cycle(parents: list[set[int]]) -> list[int]:
    """A cycle as a closed list of node indices (first == last), or [] for a DAG."""
    state = [0] * len(parents)  # 0 new, 1 on the current path, 2 done
    for root in range(len(parents)):
        if state[root]:
            continue
        stack = [(root, iter(sorted(parents[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state[nxt] == 1:
                # Found by walking parent links, so reverse to read in edge direction.
                cyc = path[path.index(nxt) :] + [nxt]
                return cyc[::-1]
            elif state[nxt] == 0:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(parents[nxt]))))
    return []


def parse_requests(doc: Any, *, source: str = "requests") -> list[WorkflowRequest]:
    """Validate a requests document (``{"requests": [...]}`` or a bare list) on its own.

    Workflow ids and node ids are checked against a config by :func:`load_requests`.

    Raises:
        DataError: A field is missing or invalid, or a request id repeats.
    """
    items = doc.get("requests") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        raise DataError("expected a 'requests' list", source=source, field="requests")
    if not items:
        raise DataError("no requests: nothing to run", source=source, field="requests")
    out: list[WorkflowRequest] = []
    seen: set[str] = set()
    kind: type | None = None
    for i, r in enumerate(items):
        where = f"requests[{i}]"
        if not isinstance(r, dict):
            raise DataError(f"expected a mapping, got {type(r).__name__}", source=source, field=where)
        rid = r.get("request_id")
        if isinstance(rid, bool) or not isinstance(rid, (str, int)) or rid == "":
            raise DataError(f"expected a request id, got {rid!r}", source=source, field=f"{where}.request_id")
        rid = str(rid)
        if rid in seen:
            raise DataError(f"duplicate request id {rid!r}", source=source, field=f"{where}.request_id")
        seen.add(rid)
        wid = r.get("workflow_id")
        if not isinstance(wid, str) or not wid:
            raise DataError(f"expected a workflow id, got {wid!r}", source=source, field=f"{where}.workflow_id")
        ts = _timestamp(r.get("timestamp"), source, f"{where}.timestamp")
        this = dt.datetime if isinstance(ts, dt.datetime) else float
        if kind is not None and this is not kind:
            raise DataError(
                "timestamps mix date-times and plain numbers; use one kind in a file",
                source=source,
                field=f"{where}.timestamp",
            )
        kind = this
        times_doc = r.get("node_execution_times") or {}
        if not isinstance(times_doc, dict):
            raise DataError(
                "expected a mapping of node id to seconds", source=source, field=f"{where}.node_execution_times"
            )
        times = {}
        for node, t in times_doc.items():
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= _MAX_NUMBER:
                raise DataError(
                    f"expected a non-negative number of seconds (at most {_MAX_NUMBER:g}), got {t!r}",
                    source=source,
                    field=f"{where}.node_execution_times.{node}",
                )
            times[str(node)] = float(t)
        configs = r.get("node_configs") or {}
        inputs = r.get("input_data") or {}
        out.append(
            WorkflowRequest(
                request_id=rid,
                workflow_id=wid,
                timestamp=ts,
                node_execution_times=times,
                node_configs=configs if isinstance(configs, dict) else {},
                input_data=inputs if isinstance(inputs, dict) else {},
            )
        )
    return out


def _timestamp(value: Any, source: str, where: str) -> dt.datetime | float:
    if isinstance(value, dt.datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = dt.datetime.fromisoformat(value)
        except ValueError:
            raise DataError(f"expected an ISO date-time, got {value!r}", source=source, field=where) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= _MAX_NUMBER:
        return float(value)
    elif value is None:
        raise DataError("missing", source=source, field=where)
    else:
        raise DataError(f"expected an ISO date-time or seconds, got {value!r}", source=source, field=where)
    # Aware and naive date-times cannot be subtracted: compare aware ones in UTC, naively.
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    return ts


def _check_requests(requests: Sequence[WorkflowRequest], config: SystemConfig, source: str) -> None:
    for i, r in enumerate(requests):
        wf = config.workflows.get(r.workflow_id)
        if wf is None:
            raise DataError(
                f"unknown workflow {r.workflow_id!r}{_did_you_mean(r.workflow_id, config.workflows)}; "
                f"{config.source} defines {', '.join(config.workflows) or 'none'}",
                source=source,
                field=f"requests[{i}].workflow_id",
            )
        ids = {n.id for n in wf.nodes}
        for node in r.node_execution_times:
            if node not in ids:
                raise DataError(
                    f"names no node of workflow {r.workflow_id!r}{_did_you_mean(node, ids)}",
                    source=source,
                    field=f"requests[{i}].node_execution_times.{node}",
                )


def check_fits(config: SystemConfig, requests: Sequence[WorkflowRequest], gpus: int) -> None:
    """Reject a model that a requested workflow uses but that needs more GPUs than there are.

    Raises:
        DataError: Naming the config file, the model's ``gpus_required`` and who uses it.
    """
    used = dict.fromkeys(r.workflow_id for r in requests)
    for wid in used:
        for node in config.workflows[wid].nodes:
            spec = config.models[node.model]
            if spec.gpus_required > gpus:
                raise DataError(
                    f"model {node.model!r} needs {spec.gpus_required} consecutive GPUs but the cluster has {gpus} "
                    f"(--gpus / cluster.gpus); node {node.id!r} of workflow {wid!r} calls it",
                    source=config.source,
                    field=f"models.{node.model}.gpus_required",
                )


def arrival_offsets(requests: Sequence[WorkflowRequest]) -> list[float]:
    """Seconds from the earliest request's timestamp to each request's (GSwarm's online mode)."""
    if not requests:
        return []
    first = min(r.timestamp for r in requests)
    if isinstance(first, dt.datetime):
        # timedelta arithmetic is exact to the microsecond, as in GSwarm; going through
        # float epoch seconds would round at the 1e-7 s level.
        return [(r.timestamp - first).total_seconds() for r in requests]
    return [float(r.timestamp - first) for r in requests]


def execution_time_table(
    config: SystemConfig, requests: Sequence[WorkflowRequest], rng: np.random.Generator
) -> list[list[float]]:
    """Execution seconds per request and node: the file's value, else an estimate from the model.

    Estimates are drawn in request order, then node order, so the same seed gives the same
    table whichever scheduler runs it.

    Raises:
        DataError: A time is missing and its model has nothing to estimate it from.
    """
    table = []
    for i, r in enumerate(requests):
        row = []
        for node in config.workflows[r.workflow_id].nodes:
            t = r.node_execution_times.get(node.id)
            if t is None:
                spec = config.models[node.model]
                if not spec.can_estimate:
                    raise DataError(
                        f"request {r.request_id!r} gives no execution time for node {node.id!r} and model "
                        f"{node.model!r} has nothing to estimate it from (inference_time_mean, or "
                        "tokens_per_second with token_mean)",
                        field=f"requests[{i}].node_execution_times.{node.id}",
                    )
                t = spec.sample_execution_time(rng)
            row.append(t)
        table.append(row)
    return table


# -- the built-in workload --------------------------------------------------------------------

_DEFAULT_CONFIG = {
    "models": {
        "llm7b": {
            "name": "LLM-7B",
            "memory_gb": 14,
            "gpus_required": 1,
            "load_time_seconds": 10,
            "tokens_per_second": 50,
            "token_mean": 512,
            "token_std": 128,
        },
        "llm30b": {
            "name": "LLM-30B",
            "memory_gb": 60,
            "gpus_required": 2,
            "load_time_seconds": 40,
            "tokens_per_second": 20,
            "token_mean": 1024,
            "token_std": 256,
        },
        "stable_diffusion": {
            "name": "Stable-Diffusion",
            "memory_gb": 8,
            "gpus_required": 1,
            "load_time_seconds": 6,
            "inference_time_mean": 2.0,
            "inference_time_std": 0.5,
        },
    },
    "workflows": {
        "workflow1": {
            "name": "LLM to Image Generation",
            "nodes": [
                {"id": "node1", "model": "llm7b", "inputs": ["user_prompt"], "outputs": ["image_prompt"]},
                {"id": "node2", "model": "stable_diffusion", "inputs": ["image_prompt"], "outputs": ["image"]},
            ],
            "edges": [{"from": "node1", "to": "node2"}],
        },
        "workflow2": {
            "name": "LLM Fork and Merge",
            "nodes": [
                {"id": "node1", "model": "llm7b", "inputs": ["user_prompt"], "outputs": ["analysis"]},
                {"id": "node2", "model": "llm30b", "inputs": ["analysis"], "outputs": ["deep_1"]},
                {"id": "node3", "model": "llm30b", "inputs": ["analysis"], "outputs": ["deep_2"]},
                {"id": "node4", "model": "llm7b", "inputs": ["deep_1", "deep_2"], "outputs": ["summary"]},
            ],
            "edges": [
                {"from": "node1", "to": "node2"},
                {"from": "node1", "to": "node3"},
                {"from": "node2", "to": "node4"},
                {"from": "node3", "to": "node4"},
            ],
        },
    },
}


def default_config() -> SystemConfig:
    """A small built-in config: GSwarm's simple config with its 30B model on 2 GPUs, not 4.

    Three models (a 1-GPU 7B LLM, a 2-GPU 30B LLM, a 1-GPU Stable Diffusion) and two
    workflows (LLM -> image; LLM fork into two 30B calls and merge), so the default 4-GPU
    scenario has gangs, switches and DAGs without any file.
    """
    return parse_config(_DEFAULT_CONFIG, source="built-in")


def generate_requests(
    rng: np.random.Generator, config: SystemConfig, n: int, rate_per_s: float
) -> list[WorkflowRequest]:
    """Draw ``n`` requests: a uniformly random workflow each, Poisson arrivals at ``rate_per_s``.

    Timestamps are seconds from the first request; execution times are left out, so they are
    estimated from the models.
    """
    wids = list(config.workflows)
    picks = rng.integers(len(wids), size=n)
    gaps = rng.exponential(1.0 / rate_per_s, size=n)
    gaps[0] = 0.0
    times = np.cumsum(gaps)
    return [
        WorkflowRequest(request_id=f"req_{i:04d}", workflow_id=wids[int(w)], timestamp=float(t))
        for i, (w, t) in enumerate(zip(picks, times))
    ]


# -- the execution log ------------------------------------------------------------------------

#: Task columns a live run adds (seconds), written to and read from each execution as they are.
LIVE_COLUMNS = ("estimated_switch", "measured_load", "measured_time")


def execution_log(trace: Trace) -> dict[str, Any]:
    """GSwarm's execution log of a gpu trace, with the trace embedded for a lossless read-back.

    ``summary`` keeps GSwarm's keys (with its waiting time fixed to mean dispatch minus ready
    time, and its response times to end minus ready time), plus ``scheduler`` and ``seed``.
    ``executions``, sorted by start time, keep GSwarm's fields (``gpu_id`` is the first GPU;
    ``execution_time`` is never null) and add ``gpu_ids`` (the whole gang), ``ready_time`` and
    ``previous_models`` (what each GPU of the gang held before), so an overlap on any GPU of a
    gang is visible. :data:`LOG_TRACE_KEY` holds the rest of the trace.

    Raises:
        DataError: The trace is not a gpu trace.
    """
    from schedlab.metrics.summary import summarize

    if trace.family != "gpu":
        raise DataError(f"an execution log is written for gpu traces, not {trace.family!r}", field="family")
    sec = trace.seconds_per_unit
    m = summarize(trace)
    t, jobs, stages = trace.tasks, trace.jobs, trace.stages
    job_row = {j: i for i, j in enumerate(jobs["id"])}
    stage_row = {(j, s): i for i, (j, s) in enumerate(zip(stages["job"], stages["stage"]))}
    n = len(t["start"])
    workers = t.get("workers") or [[w] for w in t["worker"]]
    setup = t.get("setup") or [0.0] * n
    ready = t.get("ready") or [None] * n
    estimated = t.get("estimated_time") or [None] * n
    previous = t.get("previous_models") or [None] * n
    models = t.get("model") or [None] * n
    failed = t.get("failed")  # a run with faults: attempts a GPU crash cut short
    live = [c for c in LIVE_COLUMNS if c in t]  # a live run: what was measured, next to the estimates
    workflow = jobs.get("workflow_id") or [None] * len(jobs["id"])
    node_ids = stages.get("node_id") or stages["stage"]
    executions = []
    for r in sorted(range(n), key=lambda r: (t["start"][r], r)):
        j, s = t["job"][r], t["stage"][r]
        jr, sr = job_row.get(j), stage_row.get((j, s))
        start, end = t["start"][r], t["end"][r]
        wait = None if ready[r] is None else (start - setup[r] - ready[r]) * sec
        executions.append(
            {
                "request_id": jobs["name"][jr] if jr is not None else str(j),
                "workflow_id": workflow[jr] if jr is not None else None,
                "node_id": node_ids[sr] if sr is not None else str(s),
                "model_name": models[r],
                "gpu_id": t["worker"][r],
                "gpu_ids": list(workers[r]),
                "start_time": start * sec,
                "end_time": end * sec,
                "execution_time": (end - start) * sec,
                "estimated_time": estimated[r],
                "switch_time": setup[r] * sec,
                "waiting_time": wait,
                "ready_time": None if ready[r] is None else ready[r] * sec,
                "previous_models": previous[r],
            }
        )
        if failed is not None:
            executions[-1]["failed"] = failed[r]
        for c in live:
            executions[-1][c] = t[c][r]
    mode = (trace.scenario.get("workload") or {}).get("mode")
    summary = {
        "total_requests": m["jobs"],
        "completed_requests": m["completed_jobs"],
        "total_nodes_executed": n,
        "mode": mode,
        "simulate": bool(trace.meta.get("live")),  # GSwarm's flag: true when models were called
        "gpus": list(trace.workers["id"]),
        "makespan": m["makespan_s"],
        "total_model_switches": m.get("model_switches"),
        "total_switch_time": m.get("switch_time_s"),
        "avg_waiting_time": m.get("avg_wait_s"),
        "p99_waiting_time": m.get("p99_wait_s"),
        "avg_response_time": m.get("avg_node_response_s"),
        "p99_response_time": m.get("p99_node_response_s"),
        "avg_request_response_time": m["avg_jct_s"],
        "p99_request_response_time": m["p99_jct_s"],
        "scheduler": trace.meta.get("scheduler"),
        "seed": trace.meta.get("seed"),
    }
    rest = trace.to_dict()
    del rest["tasks"]  # the executions are the task table; one copy, so an edit cannot hide
    return {"summary": summary, "executions": executions, LOG_TRACE_KEY: rest}


def write_execution_log(trace: Trace, path: str | os.PathLike) -> Path:
    """Write :func:`execution_log` as indented JSON, whole or not at all."""
    from schedlab.sim.io import write_atomic

    p = Path(path)
    write_atomic(p, (json.dumps(execution_log(trace), indent=1) + "\n").encode())
    return p


def trace_from_execution_log(doc: Any, *, source: str | None = None) -> Trace | None:
    """Turn an execution log back into a trace; None if ``doc`` is not an execution log.

    A log that schedlab wrote converts back to its trace exactly, except that the task table
    comes from ``executions`` (so the checker judges what the log shows). A log GSwarm wrote
    has no DAG, arrivals nor gang lists: it becomes a trace whose requests arrive at 0 and
    complete with their last execution, whose nodes have no parents, and whose executions
    occupy ``gpu_ids`` (or just ``gpu_id``) from ``start_time - switch_time``; the checker
    then still finds overlaps on a GPU.

    Raises:
        DataError: The log is malformed (a missing field, an execution naming an unknown
            request in a schedlab log).
    """
    from schedlab.sim.trace import Trace

    if not (isinstance(doc, dict) and isinstance(doc.get("executions"), list) and isinstance(doc.get("summary"), dict)):
        return None
    execs = doc["executions"]
    for i, e in enumerate(execs):
        if not isinstance(e, dict):
            raise DataError("expected a mapping", source=source, field=f"executions[{i}]")
        for key in ("request_id", "node_id", "gpu_id", "start_time", "end_time"):
            if key not in e:
                raise DataError("missing", source=source, field=f"executions[{i}].{key}")
        for key in ("request_id", "node_id", "gpu_id"):
            v = e[key]
            # Ids are looked up, so they must be hashable; times are judged by the checker.
            if isinstance(v, bool) or not isinstance(v, (str, int)) or (key == "gpu_id" and not isinstance(v, int)):
                raise DataError(f"expected an id, got {v!r}", source=source, field=f"executions[{i}].{key}")
    embedded = doc.get(LOG_TRACE_KEY)
    if isinstance(embedded, dict):
        empty = {c: [] for c in ("job", "stage", "task", "worker", "start", "end")}
        trace = Trace.from_dict({**embedded, "tasks": empty}, source=source)
        job_of = {name: j for j, name in zip(trace.jobs["id"], trace.jobs["name"])}
        stage_of = {
            (j, nid): s
            for j, s, nid in zip(trace.stages["job"], trace.stages["stage"], trace.stages.get("node_id") or [])
        }
    else:
        trace = _bare_trace(doc, execs)
        job_of = {name: j for j, name in zip(trace.jobs["id"], trace.jobs["name"])}
        stage_of = {
            (j, nid): s for j, s, nid in zip(trace.stages["job"], trace.stages["stage"], trace.stages["node_id"])
        }
    cols: dict[str, list] = {
        c: []
        for c in (
            "job", "stage", "task", "worker", "start", "end", "workers", "setup", "ready", "estimated_time",
            "previous_models", "model",
        )
    }  # fmt: skip
    for e in execs:
        # An execution naming nothing known keeps the name: the checker reports it as unknown.
        j = job_of.get(e["request_id"], e["request_id"])
        cols["job"].append(j)
        cols["stage"].append(stage_of.get((j, e["node_id"]), e["node_id"]))
        cols["task"].append(0)
        cols["worker"].append(e["gpu_id"])
        cols["start"].append(e["start_time"])
        cols["end"].append(e["end_time"])
        gang = e.get("gpu_ids")
        cols["workers"].append(list(gang) if isinstance(gang, list) else [e["gpu_id"]])
        cols["setup"].append(e.get("switch_time") or 0.0)
        cols["ready"].append(e.get("ready_time"))
        cols["estimated_time"].append(e.get("estimated_time"))
        cols["previous_models"].append(e.get("previous_models"))
        cols["model"].append(e.get("model_name"))
    if any("failed" in e for e in execs):
        cols["failed"] = [e.get("failed", False) for e in execs]
    for c in LIVE_COLUMNS:
        if any(c in e for e in execs):
            cols[c] = [e.get(c) for e in execs]
    trace.tasks = cols
    return trace


def _bare_trace(doc: dict, execs: list[dict]) -> Trace:
    """The trace of a log without an embedded one (GSwarm's own)."""
    from schedlab.sim.trace import Trace

    summary = doc["summary"]
    gpus = summary.get("gpus")
    if not isinstance(gpus, list):
        ids = {e["gpu_id"] for e in execs} | {g for e in execs for g in (e.get("gpu_ids") or [])}
        gpus = list(range(max((i for i in ids if isinstance(i, int)), default=-1) + 1))
    requests: dict[str, dict] = {}
    for e in execs:
        r = requests.setdefault(e["request_id"], {"end": -math.inf, "nodes": {}, "workflow": e.get("workflow_id")})
        end = e["end_time"]
        if isinstance(end, (int, float)):
            r["end"] = max(r["end"], end)
        r["nodes"].setdefault(e["node_id"], len(r["nodes"]))
    trace = Trace(family="gpu", time_unit="s", meta={"converted_from": "GSwarm execution log without a schedlab trace"})
    trace.workers.update(id=list(gpus), kind=["gpu"] * len(gpus), capacity=[1] * len(gpus))
    names = list(requests)
    trace.jobs.update(
        id=list(range(len(names))),
        name=[str(n) for n in names],
        arrival=[0.0] * len(names),
        completion=[requests[n]["end"] if math.isfinite(requests[n]["end"]) else None for n in names],
        workflow_id=[requests[n]["workflow"] for n in names],
    )
    rows = [(j, s, nid) for j, n in enumerate(names) for nid, s in requests[n]["nodes"].items()]
    trace.stages.update(
        job=[r[0] for r in rows],
        stage=[r[1] for r in rows],
        num_tasks=[1] * len(rows),
        parents=[[] for _ in rows],
        node_id=[r[2] for r in rows],
    )
    return trace
