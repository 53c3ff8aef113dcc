"""Workloads: job templates and the generators that sample job sequences from them."""
