"""The gpu family for real: workflow nodes sent to a model server over HTTP (docs/gpu-live.md).

:mod:`.run` drives the gpu model on a wall clock (:func:`~.run.run_live`); :mod:`.client`
speaks the OpenAI-compatible API to any server (vLLM, llama.cpp's server, Ollama, TGI);
:mod:`.server` is the built-in server of small stand-in models on CPU, started as a
subprocess. Nothing here is imported by ``import schedlab``; torch is imported only in the
server process.
"""
