"""A small client of the OpenAI-compatible API (standard library only).

:class:`ModelServer` sends a node's call (``/v1/completions`` for a generative model,
``/v1/embeddings`` for an encoder) and times it; :meth:`ModelServer.connect` checks first that
the URL answers like such a server, and turns every way it does not (nothing listening, a
404, an answer that is not JSON, models it does not serve) into one
:class:`~schedlab.errors.ConfigError` naming ``--server-url``.

Against the built-in server (its ``/health`` names it) a model switch is a real load into the
gang's slots (``POST /schedlab/load``), timed on its own, and calls name their gang in the
extension field ``gpus``. Another server gets standard requests only: it loads models as it
sees fit, so a switch is timed as a first tiny call of the new model (one token, one short
input), which includes whatever load the server does then.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from schedlab.errors import ConfigError

__all__ = ["ModelServer", "ServerError"]


class ServerError(Exception):
    """A call failed once the run had started (the server died or refused a call)."""


class ModelServer:
    """An OpenAI-compatible model server at ``url``.

    Args:
        url: Base URL, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is accepted).
        timeout: Seconds a call may take.
    """

    def __init__(self, url: str, timeout: float = 600.0) -> None:
        url = url.rstrip("/")
        self.url = url.removesuffix("/v1")
        self.timeout = timeout
        self.builtin = False
        self.served: list[str] = []

    def connect(self, models: dict[str, str]) -> ModelServer:
        """Check the server answers the API and serves ``models`` (key -> kind); return self.

        Raises:
            ConfigError: Field ``--server-url``: unreachable, not OpenAI-compatible, or a
                model is not served.
        """
        doc = self._get_checked("/v1/models")
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list) or not all(isinstance(d, dict) and "id" in d for d in data):
            raise self._bad("GET /v1/models did not answer an OpenAI model list")
        self.served = [str(d["id"]) for d in data]
        missing = [k for k in models if k not in self.served]
        if missing:
            raise self._bad(
                f"the server does not serve model(s) {', '.join(map(repr, missing))} of the system config "
                f"(it serves {', '.join(map(repr, self.served)) or 'none'}); name served models in the config"
            )
        try:
            health = self._request("GET", "/health")
        except (ServerError, OSError, ValueError):
            health = None
        self.builtin = isinstance(health, dict) and health.get("server") == "schedlab-standin"
        return self

    def load(self, model: str, kind: str, gpus: tuple[int, ...]) -> float:
        """Make ``model`` ready on ``gpus``; the measured seconds (0.0 if it was loaded)."""
        if self.builtin:
            return float(self._post("/schedlab/load", {"model": model, "gpus": list(gpus)})["seconds"])
        t0 = time.perf_counter()
        self.call(model, kind, 1, gpus)
        return time.perf_counter() - t0

    def call(self, model: str, kind: str, size: int, gpus: tuple[int, ...], text: str = "schedlab") -> float:
        """Run one node's call; the measured seconds of the HTTP call.

        Args:
            model: The served model's id.
            kind: ``generative`` (``size`` = tokens to generate) or ``encoder`` (``size`` =
                inputs to embed).
            size: Tokens or inputs.
            gpus: The gang (sent to the built-in server only).
            text: The prompt, or each input.
        """
        extra = {"gpus": list(gpus)} if self.builtin else {}
        t0 = time.perf_counter()
        if kind == "encoder":
            doc = self._post("/v1/embeddings", {"model": model, "input": [text] * size, **extra})
            ok = isinstance(doc.get("data"), list) and len(doc["data"]) == size
        else:
            doc = self._post("/v1/completions", {"model": model, "prompt": text, "max_tokens": size, **extra})
            ok = isinstance(doc.get("choices"), list)
        seconds = time.perf_counter() - t0
        if not ok:
            raise ServerError(f"{self.url}: {model!r} answered without the OpenAI response fields")
        return seconds

    # -- HTTP ------------------------------------------------------------------------------

    def _bad(self, problem: str) -> ConfigError:
        return ConfigError(f"{self.url}: {problem}", field="--server-url")

    def _get_checked(self, path: str) -> Any:
        """GET ``path`` before the run, every failure a ConfigError for ``--server-url``."""
        try:
            return self._request("GET", path)
        except urllib.error.HTTPError as e:
            raise self._bad(f"not an OpenAI-compatible server (GET {path} answered HTTP {e.code})") from None
        except urllib.error.URLError as e:
            raise self._bad(f"cannot reach the server ({_reason(e.reason)})") from None
        except (ValueError, UnicodeDecodeError):
            raise self._bad(f"not an OpenAI-compatible server (GET {path} did not answer JSON)") from None
        except OSError as e:
            raise self._bad(f"cannot reach the server ({_reason(e)})") from None

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            doc = self._request("POST", path, body)
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode(errors="replace")
            raise ServerError(f"{self.url}{path} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise ServerError(f"{self.url}{path} failed: {_reason(getattr(e, 'reason', e))}") from None
        if not isinstance(doc, dict):
            raise ServerError(f"{self.url}{path} did not answer a JSON object")
        return doc

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            return json.loads(r.read().decode())


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return str(getattr(reason, "strerror", None) or reason)
