"""Schedulers: the interface, the registry and the baselines that fit any family.

Each family's own schedulers live in its package (``schedlab/families/<name>/``) and are
registered from its :class:`~schedlab.plugins.FamilySpec` when the family is first used.
"""

from schedlab.schedulers.base import Scheduler, check_family
from schedlab.schedulers.registry import (
    SchedulerSpec,
    check_name,
    default_name,
    default_names,
    make,
    names,
    register,
    spec,
    specs,
)

__all__ = [
    "Scheduler",
    "check_family",
    "check_name",
    "SchedulerSpec",
    "default_name",
    "default_names",
    "make",
    "names",
    "register",
    "spec",
    "specs",
]
