"""A private Dovecot IMAP server on an ephemeral loopback port (reference/test-peers.md).

Started with a throwaway config in a 0755 temp folder, stopped with SIGTERM afterwards, and
tied to the test process with PR_SET_PDEATHSIG so a killed pytest leaves no orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import mailbox
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.peers import free_port

TEMPLATE = string.Template(Path(__file__).with_name("dovecot.conf.in").read_text())


@dataclass
class Dovecot:
    """A running instance: where it listens and how to put mail in."""

    host: str
    port: int
    conf: Path
    dir: Path
    uid: int
    gid: int

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver one mail with ``doveadm save`` (as Dovecot itself would)."""
        subprocess.run(
            ["doveadm", "-c", str(self.conf), "save", "-u", user, "-m", folder],
            input=raw,
            check=True,
            capture_output=True,
        )

    def drop_many(self, user: str, raws: Iterable[bytes]) -> None:
        """Write mails straight into the user's Maildir (fast, for big mailboxes)."""
        root = self.dir / "home" / user / "Maildir"
        box = mailbox.Maildir(str(root), create=True)
        for raw in raws:
            box.add(raw)
        for folder, _, files in os.walk(root):
            os.chown(folder, self.uid, self.gid)
            for name in files:
                os.chown(os.path.join(folder, name), self.uid, self.gid)

    def doveadm(self, *args: str) -> str:
        return subprocess.run(
            ["doveadm", "-c", str(self.conf), *args], check=True, capture_output=True, text=True
        ).stdout


def _wait_greeting(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(256).startswith(b"* OK"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no IMAP greeting on port {port}")


def _die_with_parent() -> None:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def dovecot(users: dict[str, str]) -> Iterator[Dovecot]:
    """Run Dovecot for ``users`` (name -> password) until the block ends."""
    tmp = Path(tempfile.mkdtemp(prefix="dovecot-"))
    tmp.chmod(0o755)  # not pytest's tmp_path: its parents are 0700 (test-peers.md)
    root = os.geteuid() == 0
    me, my_group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    uid, gid = (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid) if root else (os.geteuid(), os.getegid())
    (tmp / "run").mkdir()
    (tmp / "state").mkdir()
    (tmp / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
    for u in users:
        (tmp / "home" / u).mkdir(parents=True)
        os.chown(tmp / "home" / u, uid, gid)
    port, conf = free_port(), tmp / "dovecot.conf"
    conf.write_text(
        TEMPLATE.substitute(
            TMP=tmp,
            PORT=port,
            MAIL_UID=uid,
            MAIL_GID=gid,
            INTERNAL_USER="root" if root else me,
            INTERNAL_GROUP="root" if root else my_group,
            LOGIN_USER="dovenull" if root else me,
        )
    )
    proc = subprocess.Popen(["dovecot", "-F", "-c", str(conf)], preexec_fn=_die_with_parent)
    try:
        _wait_greeting(port, proc)
        yield Dovecot("127.0.0.1", port, conf, tmp, uid, gid)
    except BaseException:
        log = tmp / "dovecot.log"
        print(log.read_text() if log.exists() else "no dovecot log")
        raise
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
