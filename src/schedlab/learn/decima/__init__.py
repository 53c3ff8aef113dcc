"""Decima (Mao et al., SIGCOMM'19) for the spark family: a graph neural scheduling policy.

- :mod:`~schedlab.learn.decima.features`: one decision point as arrays (Decima's five stage
  features, the DAG edges, each node's message-passing level, the executor-limit bounds) and
  the concatenation of many decisions into one batch.
- :mod:`~schedlab.learn.decima.network`: the policy, a PyTorch module whose batched forward
  scores every decision of a rollout in one call, and a NumPy twin for fast inference.
- :mod:`~schedlab.learn.decima.scheduler`: :class:`DecimaScheduler`, the policy as a scheduler.
- :mod:`~schedlab.learn.decima.rollout`: episodes run by the policy (or by a heuristic, for
  behaviour cloning) in worker processes, with their discounted returns.
- :mod:`~schedlab.learn.decima.trainer`: :class:`DecimaTrainer` for ``schedlab train spark decima``.
"""
