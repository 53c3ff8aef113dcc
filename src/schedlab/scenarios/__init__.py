"""Validated scenario configs and the built-in presets."""

from schedlab.scenarios.loader import load_scenario, parse_scenario, preset_names
from schedlab.scenarios.schema import FAMILIES, SparkScenario

__all__ = ["FAMILIES", "SparkScenario", "load_scenario", "parse_scenario", "preset_names"]
