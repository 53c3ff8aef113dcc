"""Models and training beside the simulator: forecasters of node state, and later learned policies.

Importing this package imports neither torch nor transformers; the neural parts load them when
they are built.
"""
