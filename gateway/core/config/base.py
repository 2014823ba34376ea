"""The base of every config table and the error the loader raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(Exception):
    """The config cannot be used; ``problems`` are one line each, key path first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Section(BaseModel):
    """Base for every table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False)
