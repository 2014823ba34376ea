"""Reading and validating the TOML file; pydantic's errors become one line per problem,
key path first (:class:`~gateway.core.config.base.ConfigError`)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gateway.core.config.base import ConfigError
from gateway.core.config.model import Config

DEFAULT_CONFIG = "config/gateway.toml"


def _format_error(err: ErrorDetails) -> str:
    loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}" if loc else msg


def parse_config(data: dict[str, Any], base_dir: Path) -> Config:
    """Validate a parsed TOML mapping; raise :class:`ConfigError` with key paths."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError([_format_error(err) for err in e.errors()]) from None
    cfg.base_dir = base_dir
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config file (``--config``, ``GATEWAY_CONFIG`` or the default)."""
    p = Path(path or os.environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError([f"{p}: cannot read the config file ({e.strerror})"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}: not valid TOML ({e})"]) from None
    return parse_config(data, p.resolve().parent)
