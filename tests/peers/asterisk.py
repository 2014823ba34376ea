"""A real Asterisk 22 for the voice tests, run from a Debian unstable root (built once by
``.ci/asterisk-root``) with the project's own config/asterisk/ files.

Each instance gets a folder ``/srv/gw-<id>/`` inside the root (its own asterisk.conf,
modules, logs, astdb and control socket) and runs in a private mount namespace
(``unshare --mount``): /proc, /dev and the gateway's spool folder are bind-mounted into the
root there, at the path the shipped dialplan uses (``/var/spool/asterisk/feedback``), so the
mounts exist only for that process and vanish when it exits, even if pytest is killed.

From the project's files only the AMI port and the FastAGI address are substituted; the
fake callers' dialplan (asterisk_callers.conf) is added with an ``#include``.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.peers import free_port, require, require_binary

ROOT = Path(os.environ.get("GATEWAY_ASTERISK_ROOT", "/var/cache/citizen-gateway/asterisk-root"))
PROJECT = Path(__file__).resolve().parent.parent.parent / "config" / "asterisk"
CALLERS = Path(__file__).with_name("asterisk_callers.conf")
SPOOL_IN_ROOT = "/var/spool/asterisk/feedback"  # SPOOL in the shipped extensions.conf
AMI_SECRET = "change-me"  # the shipped manager.conf's secret (not substituted)
# What the shipped dialplan and the fake callers use (autoload takes ~10 s; this ~1 s).
MODULES = [
    "pbx_config",
    "res_speech",
    "res_agi",
    "app_record",
    "app_playback",
    "app_read",
    "app_userevent",
    "app_senddtmf",
    "app_stack",
    "app_playtones",
    "app_waitforsilence",
    "app_waitforcond",
    "app_while",
    "app_mixmonitor",
    "app_verbose",
    "app_system",
    "func_callerid",
    "func_channel",
    "func_env",
    "func_logic",
    "func_timeout",
    "func_strings",
    "func_global",
    "format_wav",
    "format_pcm",
    "format_sln",
    "codec_ulaw",
    "codec_alaw",
    "codec_resample",
    "res_timing_timerfd",
]
ASTERISK_CONF = """[directories]
astcachedir => {i}/cache
astetcdir => {i}/etc
astmoddir => {moddir}
astvarlibdir => {i}/lib
astdbdir => {i}/lib
astkeydir => {i}/lib
astdatadir => {i}/data
astagidir => /usr/share/asterisk/agi-bin
astspooldir => {i}/spool
astrundir => {i}/run
astlogdir => {i}/log
astsbindir => /usr/sbin
[options]
verbose = 3
transmit_silence = yes
"""
LOGGER_CONF = "[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n"


_STEP = re.compile(r"^\s*(?:exten\s*=>\s*([^,]+),(\d+)|same\s*=>\s*n)(?:\((\w+)\))?,(.*)$")
_PLACE = re.compile(r"@([\w-]+)/([^@]+)@")


def dialplan_steps(text: str) -> list[tuple[str, str, int, str, str]]:
    """(context, extension, priority, label, command) for each step of an extensions.conf."""
    steps, context, exten, prio = [], "", "", 0
    for line in text.splitlines():
        line = line.split(";", 1)[0].rstrip()
        if line.startswith("[") and "]" in line:
            context = line[1 : line.index("]")]
            continue
        m = _STEP.match(line)
        if m is None:
            continue
        if m.group(1):
            exten, prio = m.group(1).strip(), int(m.group(2))
        else:
            prio += 1
        steps.append((context, exten, prio, m.group(3) or "", m.group(4).strip()))
    return steps


def resolve_steps(callers: str, dialplan: str) -> str:
    """Replace ``@context/what@`` in the callers' dialplan by ``context,priority`` of the
    line's first ``s`` step labelled ``what`` or whose command starts with ``what``."""
    steps = dialplan_steps(dialplan)

    def one(m: re.Match[str]) -> str:
        for context, exten, prio, label, command in steps:
            if context == m.group(1) and exten == "s" and m.group(2) in (label, command[: len(m.group(2))]):
                return f"{context},{prio}"
        raise LookupError(f"no step {m.group(0)} in the shipped dialplan")

    return _PLACE.sub(one, callers)


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphan PBX


def require_asterisk() -> None:
    """Skip locally (fail under CI) when the Asterisk root or the tools are missing."""
    require((ROOT / ".citizen-gateway-ready").exists(), f"no Asterisk root at {ROOT} (run .ci/asterisk-root as root)")
    require(os.geteuid() == 0, "a chrooted Asterisk needs root")
    require_binary("unshare", "util-linux")


class AsteriskPeer:
    """One Asterisk process; ``spool`` is the gateway's spool folder (bind-mounted)."""

    def __init__(self, spool: Path, sounds: Path, agi_port: int, *, noload: tuple[str, ...] = ()) -> None:
        self.spool, self.sounds, self.agi_port, self.noload = spool, sounds, agi_port, noload
        self.ami_port = free_port()
        self.name = f"gw-{os.getpid()}-{secrets.token_hex(3)}"
        self.inside = f"/srv/{self.name}"  # the instance folder as Asterisk sees it
        self.dir = ROOT / self.inside.lstrip("/")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.dir / "log" / "messages.log"

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""

    def configure(self) -> None:
        """Write the instance folder: Asterisk's own files, then the project's (substituted)."""
        for sub in ("etc", "run", "log", "lib", "cache", "spool", "data"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        for shared in ("documentation", "keys", "rest-api", "static-http"):
            link = self.dir / "data" / shared
            if not link.is_symlink():  # (a restart reuses the folder)
                link.symlink_to(f"/usr/share/asterisk/{shared}")
        if not (self.dir / "data" / "sounds").exists():
            shutil.copytree(self.sounds, self.dir / "data" / "sounds")
        etc = self.dir / "etc"
        moddir = next(ROOT.glob("usr/lib/*/asterisk/modules"))  # the multiarch folder
        (etc / "asterisk.conf").write_text(ASTERISK_CONF.format(i=self.inside, moddir=f"/{moddir.relative_to(ROOT)}"))
        (etc / "logger.conf").write_text(LOGGER_CONF)
        (etc / "modules.conf").write_text(
            "[modules]\nautoload = no\n" + "".join(f"load => {m}.so\n" for m in MODULES if m not in self.noload)
        )
        manager = (PROJECT / "manager.conf").read_text("utf-8")
        (etc / "manager.conf").write_text(manager.replace("port = 5038", f"port = {self.ami_port}"))
        dialplan = (PROJECT / "extensions.conf").read_text("utf-8")
        dialplan = dialplan.replace("agi://127.0.0.1:4573", f"agi://127.0.0.1:{self.agi_port}")
        assert f":{self.agi_port}" in dialplan and f"port = {self.ami_port}" in (etc / "manager.conf").read_text()
        (etc / "extensions.conf").write_text(dialplan + '\n#include "fake-callers.conf"\n')
        (etc / "fake-callers.conf").write_text(resolve_steps(CALLERS.read_text("utf-8"), dialplan))

    def start(self, timeout: float = 60) -> None:
        """Start Asterisk and wait until it is fully booted and its AMI port answers."""
        (ROOT / SPOOL_IN_ROOT.lstrip("/")).mkdir(parents=True, exist_ok=True)
        self.configure()
        script = (
            'set -e; R="$1"; mount --bind /proc "$R/proc"; mount --bind /dev "$R/dev"; '
            f'mount --bind "$2" "$R{SPOOL_IN_ROOT}"; '
            f'exec chroot "$R" /usr/sbin/asterisk -f -n -C {self.inside}/etc/asterisk.conf'
        )
        out = (self.dir / "log" / "console.out").open("ab")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(ROOT), str(self.spool)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        out.close()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"asterisk exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if "fully booted" in self.cli("core waitfullybooted", check=False).lower():
                return
            time.sleep(0.2)
        raise TimeoutError("asterisk did not boot:\n" + self.log_text()[-3000:])

    def cli(self, command: str, *, check: bool = True) -> str:
        """``asterisk -rx`` over the instance's control socket."""
        r = subprocess.run(
            ["chroot", str(ROOT), "/usr/sbin/asterisk", "-C", f"{self.inside}/etc/asterisk.conf", "-rx", command],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and r.returncode != 0:
            raise RuntimeError(f"asterisk -rx {command!r}: {r.stderr or r.stdout}")
        return r.stdout

    def stop(self, *, kill: bool = False) -> None:
        """``core stop now`` (or SIGKILL: a crash); the private mounts go with the process."""
        if self.proc is None:
            return
        if not kill and self.proc.poll() is None:
            self.cli("core stop now", check=False)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)
        self.proc = None

    def cleanup(self, keep_log: Path | None = None) -> None:
        """Remove the instance folder (after :meth:`stop`; never through a live mount)."""
        assert self.proc is None
        if keep_log is not None and self.log.exists():
            shutil.copy(self.log, keep_log)
        if (self.dir / "lib").exists():
            shutil.rmtree(self.dir, ignore_errors=True)
