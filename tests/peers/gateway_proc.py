"""A real ``gateway run`` OS process for end-to-end tests: the config is written as TOML
from a mapping, the output goes to a log file (no pipe to fill), SIGTERM stops it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"no TOML for {type(v).__name__}")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)


def toml_dumps(data: dict[str, Any], prefix: str = "") -> str:
    """The TOML subset a gateway config needs: scalars, lists, tables, arrays of tables."""
    lines, tables = [], []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v, False))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            tables.append((k, v, True))
        elif v is not None:
            lines.append(f"{_key(k)} = {_value(v)}")
    out = "\n".join(lines) + "\n"
    for k, v, many in tables:
        name = f"{prefix}{_key(k)}"
        for item in v if many else [v]:
            out += f"\n[[{name}]]\n" if many else f"\n[{name}]\n"
            out += toml_dumps(item, f"{name}.")
    return out


@dataclass
class GatewayProcess:
    """A running ``gateway run``; :attr:`log` holds its stdout and stderr."""

    proc: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def terminate(self, limit: float) -> int:
        """SIGTERM; the exit code, or AssertionError if it did not exit within ``limit`` s."""
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), limit)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(
                f"gateway run did not exit within {limit} s of SIGTERM:\n" + self.output()[-3000:]
            ) from None


@asynccontextmanager
async def gateway_process(
    config: dict[str, Any], workdir: Path, *, only: str = "", env: dict[str, str] | None = None
) -> AsyncIterator[GatewayProcess]:
    """Start ``python -m gateway --config <workdir>/gw.toml run [--only ...]``; always stopped."""
    conf = workdir / "gw.toml"
    conf.write_text(toml_dumps(config), encoding="utf-8")
    log = workdir / "gateway-run.log"
    args = ["-m", "gateway", "--config", str(conf), "run", *(["--only", only] if only else [])]
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    gw = GatewayProcess(proc, log)
    try:
        yield gw
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
