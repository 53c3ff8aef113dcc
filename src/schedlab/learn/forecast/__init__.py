"""Forecasters of edge node state: one interface from last-value persistence to LoRA-adapted MiniLM.

Every forecaster is fitted on node logs and predicts, for each node, the next ``steps`` states
(cpu, mem, delay, load) from a window of that node's history::

    from schedlab.learn.forecast import make_forecaster
    from schedlab.families.edge.nodes import read_node_logs

    model = make_forecaster("ewma", alpha=0.3).fit(read_node_logs("node_logs.csv"))
    nxt = model.predict(history, node_ids, steps=5)   # (nodes, 5, 4)

Names: see :data:`FORECASTERS`. The neural ones import torch when built.
"""

from schedlab.learn.forecast.base import FORECASTERS, Forecaster, load_forecaster, make_forecaster

__all__ = ["FORECASTERS", "Forecaster", "load_forecaster", "make_forecaster"]
