"""Metrics computed from traces, and the trace checker."""
