"""Scenarios: finding, validating and overriding them. Each family's schema lives in its package."""

from schedlab.scenarios.loader import load_scenario, parse_scenario, preset_names
from schedlab.scenarios.schema import Strict

__all__ = ["Strict", "load_scenario", "parse_scenario", "preset_names"]
