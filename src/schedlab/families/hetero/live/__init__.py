"""The hetero family for real: the four task types as real work, calibration, live runs.

The same scheduler objects that plan in the simulator drive real work here; only where the
durations come from changes.

- :mod:`~schedlab.families.hetero.live.work`: the task types as real work (NumPy matrix
  product, prime sieve, sort, small file operations), each runnable alone.
- :mod:`~schedlab.families.hetero.live.profile`: a calibrated profile of this machine's worker
  processes (the duration model of docs/hetero.md fitted to measurements) and the fit.
- :mod:`~schedlab.families.hetero.live.executor`: worker processes, one per node: a local pool
  or Ray actors pinned to nodes by custom resources.
- :mod:`~schedlab.families.hetero.live.run`: a live run: the hetero model's queues and views,
  fed by real completions on a wall clock instead of the event heap's durations.

See docs/hetero-live.md.
"""
