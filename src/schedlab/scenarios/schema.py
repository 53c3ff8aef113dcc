"""What every family's scenario schema shares."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Strict"]


class Strict(BaseModel):
    """A frozen config model whose unknown keys are errors (YAML is only its serialisation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
