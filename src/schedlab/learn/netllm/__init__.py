"""NetLLM for spark: a pretrained language model, made causal and LoRA-adapted, as a decision transformer.

- :mod:`~schedlab.learn.netllm.data`: decision steps as tokens (NumPy only): the frozen Decima
  encoder's embeddings of the offered stages, the capped stage set, the executor and action
  tokens, and windows of whole steps that never cross an episode.
- :mod:`~schedlab.learn.netllm.model`: the PyTorch policy (backbone + LoRA, projections, heads)
  and :class:`~schedlab.learn.netllm.model.Session`, the KV-cached inference context.
- :mod:`~schedlab.learn.netllm.trainer`: :class:`NetLLMTrainer` for ``schedlab train spark netllm``.
- :mod:`~schedlab.learn.netllm.scheduler`: :class:`NetLLMScheduler`, the policy as a scheduler.

See ``docs/netllm.md``. Importing this package imports neither torch nor transformers.
"""
