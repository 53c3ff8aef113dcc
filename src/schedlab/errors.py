"""The exceptions schedlab raises; defined beside the engine, which raises them too."""

from schedlab.sim.errors import (
    ConfigError,
    DataError,
    InvalidActionError,
    SchedlabError,
    UnknownNameError,
)

__all__ = ["SchedlabError", "ConfigError", "DataError", "InvalidActionError", "UnknownNameError"]
