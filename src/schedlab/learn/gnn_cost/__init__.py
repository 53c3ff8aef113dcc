"""The cost-regression GNN for the multiproc family (``gnn-cost``).

CPUs are the nodes of a complete graph; a small message-passing network with a mean-pooled
global context regresses, for the task being placed, the log of its completion time on each
CPU, and the scheduler places the task where the prediction is least. The network learns a
correction to the completion time LWR's information gives, ``(work_remaining + size) / speed``;
``predictor="formula"`` is the same rule without it.

- :mod:`~schedlab.learn.gnn_cost.features`: node features (NumPy) and data collection;
- :mod:`~schedlab.learn.gnn_cost.network`: the network (torch for training, NumPy for inference);
- :mod:`~schedlab.learn.gnn_cost.scheduler`: the scheduler (``-s gnn-cost``);
- :mod:`~schedlab.learn.gnn_cost.trainer`: ``schedlab train multiproc gnn-cost``.

See ``docs/gnn-cost.md``.
"""
