"""A real Kannel on loopback for tests: bearerbox, smsbox and one long-lived fakesmsc.

fakesmsc runs in its interactive mode: each line written to its standard input is sent as
an MO, and every MT it receives is printed as ``Got message N: <from to type data>``
(Kannel's user guide).  Everything is started from a throwaway config in a
temporary folder, on free ports, and stopped by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_to_bytes

import aiohttp

from tests.peers import free_port, require_binary

FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
TEMPLATE = Path(__file__).with_name("kannel.conf.template")
_GOT = re.compile(r"Got message \d+: <(.*)>")


@dataclass(frozen=True, slots=True)
class ReceivedMt:
    """One MT as fakesmsc printed it."""

    sender: str
    receiver: str
    kind: str  # text | ucs-2 | udh (then the data of a concatenated part, UCS-2 here)
    udh: bytes
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-16-be") if self.kind in ("ucs-2", "udh") else self.data.decode("latin-1")


def parse_mt(line: str) -> ReceivedMt | None:
    """Parse a fakesmsc "Got message" line: ``<from to ucs-2 DATA>`` or
    ``<from to udh UDH data DATA>`` for a part of a concatenated MT."""
    m = _GOT.search(line)
    if m is None:
        return None
    fields = m.group(1).split(" ")
    sender, receiver, kind = fields[0], fields[1], fields[2]
    udh = _unquote(fields[3]) if kind == "udh" and len(fields) > 4 else b""
    return ReceivedMt(sender, receiver, kind, udh, _unquote(fields[-1]))


def _unquote(value: str) -> bytes:
    """fakesmsc prints form-encoded bytes ('+' is a space)."""
    return unquote_to_bytes(value.replace("+", "%20"))


class KannelPeer:
    """Start/stop the three processes and talk to fakesmsc."""

    def __init__(self, workdir: Path, gateway_url: str, password: str = "secret") -> None:
        self.dir, self.gateway_url, self.password = workdir, gateway_url, password
        self.ports = {n: free_port() for n in ("admin_port", "smsbox_port", "sendsms_port", "smsc_port")}
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.mts: asyncio.Queue[ReceivedMt] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sendsms_port']}/cgi-bin/sendsms"

    async def start(self) -> None:
        bearerbox = require_binary("bearerbox", "kannel")
        smsbox = require_binary("smsbox", "kannel")
        require_binary(FAKESMSC, "kannel-extras")
        conf = self.dir / "kannel.conf"
        conf.write_text(
            TEMPLATE.read_text().format(dir=self.dir, gateway=self.gateway_url, password=self.password, **self.ports)
        )
        await self._spawn("bearerbox", bearerbox, "-v", "4", str(conf))
        await self._wait_port(self.ports["admin_port"])
        await self._spawn("smsbox", smsbox, "-v", "4", str(conf))
        await self._wait_port(self.ports["sendsms_port"])
        await self._spawn(
            "fakesmsc",
            FAKESMSC,
            "-H",
            "127.0.0.1",
            "-r",
            str(self.ports["smsc_port"]),
            "-i",
            "0.05",
            "-v",
            "0",
            stdin=True,
        )
        self._reader = asyncio.create_task(self._read_mts())
        await self._wait_smsc_online()

    async def _spawn(self, name: str, *argv: str, stdin: bool = False) -> None:
        log = open(self.dir / f"{name}.out", "wb")
        self.procs[name] = await asyncio.create_subprocess_exec(
            *argv,
            cwd=self.dir,
            stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if stdin else log,
            stderr=asyncio.subprocess.STDOUT if stdin else log,
        )
        log.close()

    async def _wait_port(self, port: int, timeout: float = 20) -> None:
        for _ in range(int(timeout / 0.1)):
            with contextlib.suppress(OSError):
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"Kannel port {port} did not open; see {self.dir}")

    async def status(self) -> str:
        url = f"http://127.0.0.1:{self.ports['admin_port']}/status.txt?password=statuspw"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, s.get(url) as r:
            return await r.text()

    async def _wait_smsc_online(self, timeout: float = 30) -> None:
        for _ in range(int(timeout / 0.2)):
            if re.search(r"FAKE\[FAKE\].*online", await self.status()):
                return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"fake SMSC did not come online; see {self.dir}")

    async def _read_mts(self) -> None:
        out = self.procs["fakesmsc"].stdout
        assert out is not None
        with open(self.dir / "fakesmsc.out", "ab") as log:
            while line := await out.readline():
                log.write(line)
                log.flush()
                mt = parse_mt(line.decode("latin-1"))
                if mt is not None:
                    await self.mts.put(mt)

    async def send_mo(self, sender: str, receiver: str, text: str) -> None:
        """Inject one MO as UCS-2 (URL-encoded UTF-16BE), as a handset would send Persian."""
        data = "".join(f"%{b:02X}" for b in text.encode("utf-16-be"))
        stdin = self.procs["fakesmsc"].stdin
        assert stdin is not None
        stdin.write(f"{sender} {receiver} ucs2 {data}\n".encode())
        await stdin.drain()

    async def next_mt(self, timeout: float = 90) -> ReceivedMt:
        return await asyncio.wait_for(self.mts.get(), timeout)

    async def stop(self) -> None:
        for name in ("fakesmsc", "smsbox", "bearerbox"):
            proc = self.procs.get(name)
            if proc is None or proc.returncode is not None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, 2 if name == "fakesmsc" else 15)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
