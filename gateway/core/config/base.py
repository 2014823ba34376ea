"""The base of every config table and the error the loader raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from gateway.core.errors import ConfigError as ConfigError  # re-exported: raised here


class Section(BaseModel):
    """Base for every table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False)
