"""The HAProxy sample of deploy/balancer in front of a real ``gateway run``: its health
check (with its own PROXY header) marks the gateway up, HTTP and SMTP pass through with the
PROXY v2 header, and the gateway sees the citizen's address, not the balancer's: the Kannel
webhook's address allowlist lets 127.0.0.2 in and keeps 127.0.0.3 out, although every
connection reaches the gateway from HAProxy on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import aiohttp
from sqlalchemy import func, select

from gateway.core.db import Database
from gateway.core.models import InboundSpool
from tests.peers import eventually, free_port, require_binary
from tests.test_cli import ROOT

SAMPLE = ROOT / "deploy" / "balancer" / "haproxy.cfg"


def haproxy_config(http_in: int, smtp_in: int, gw_http: int, gw_smtp: int) -> str:
    """The sample with its addresses put on loopback (one gateway instead of two); nothing
    else is changed, so the sample's health checks and PROXY settings are what is tested."""
    cfg = SAMPLE.read_text()
    cfg = cfg.replace("bind :80", f"bind 127.0.0.1:{http_in}").replace("bind :25", f"bind 127.0.0.1:{smtp_in}")
    cfg = cfg.replace("server gw1 10.0.0.11:8080", f"server gw1 127.0.0.1:{gw_http}")
    cfg = cfg.replace("server gw1 10.0.0.11:2525", f"server gw1 127.0.0.1:{gw_smtp}")
    cfg = re.sub(r"\n\s*server gw2 [^\n]+", "", cfg)
    cfg = cfg.replace("log stdout format raw local0", "log stderr format raw local0")
    # capacity only: 20,000 connections need twice as many file descriptors, more than a
    # test runner may raise its limit to (a server's unit sets LimitNOFILE)
    cfg = cfg.replace("maxconn 20000", "maxconn 1000")
    assert "10.0.0." not in cfg
    return cfg


def send_mail(port: int, source: str) -> dict[str, object]:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "citizen@example.org", "feedback@example.ir", "چراغ خاموش"
    m.set_content("چراغ کوچه خاموش است.")
    with smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(source, 0)) as s:
        return s.send_message(m)


async def kannel_mo(port: int, source: str, n: int) -> int:
    url = (
        f"http://127.0.0.1:{port}/sms/kannel/mo?from=0912555700{n}&to=30001234&text={quote('شکایت')}"
        f"&charset=UTF-8&coding=0&id=hap-{n}&ts=1732000000&smsc=FAKE"
    )
    connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http, http.get(url) as r:
        return r.status


async def test_the_haproxy_sample_passes_the_client_address(tmp_path: Path, db_url: str) -> None:
    haproxy = require_binary("haproxy", "haproxy")
    gw_http, gw_smtp, http_in, smtp_in = free_port(), free_port(), free_port(), free_port()
    conf = tmp_path / "gw.toml"
    conf.write_text(
        f"""
[gateway]
database_url = "{db_url}"
data_dir = "{tmp_path / "var"}"
instance_name = "behind-haproxy"
[http]
host = "127.0.0.1"
port = {gw_http}
proxy_protocol = true
[email.smtp]
port = {gw_smtp}
proxy_protocol = true
[sms]
provider = "kannel"
numbers = ["30001234"]
allow_from = ["127.0.0.2"]
[sms.kannel]
sendsms_url = "http://127.0.0.1:9/cgi-bin/sendsms"
[[units]]
code = "oversight"
name = "حراست"
[[units]]
code = "pr"
name = "روابط عمومی"
""",
        encoding="utf-8",
    )
    (tmp_path / "haproxy.cfg").write_text(haproxy_config(http_in, smtp_in, gw_http, gw_smtp))
    check = subprocess.run([haproxy, "-c", "-f", str(tmp_path / "haproxy.cfg")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    gw = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(conf), "run", "--only", "http,sms,email"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    proxy = subprocess.Popen(
        [haproxy, "-db", "-f", str(tmp_path / "haproxy.cfg")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    db = Database(db_url)
    try:

        async def through_the_balancer() -> bool:
            assert gw.poll() is None, gw.stderr.read() if gw.stderr else ""
            try:
                async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{http_in}/healthz") as r:
                    return r.status == 200
            except aiohttp.ClientError:
                return False  # HAProxy has not marked the gateway up yet

        await eventually(through_the_balancer, "HAProxy's check marks the gateway up", 120)
        # without the header the gateway closes the connection: only HAProxy gets in
        with socket.create_connection(("127.0.0.1", gw_http), timeout=10) as raw:
            raw.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
            assert raw.recv(100) == b""

        assert await kannel_mo(http_in, "127.0.0.2", 1) == 200  # the allowlisted provider
        assert await kannel_mo(http_in, "127.0.0.3", 2) == 401  # anyone else: refused

        async def mail_through_the_balancer() -> bool:
            try:
                return await asyncio.to_thread(send_mail, smtp_in, "127.0.0.3") == {}
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                return False  # HAProxy's SMTP check has not marked the gateway up yet

        await eventually(mail_through_the_balancer, "a mail passes the balancer", 60)

        async def spooled() -> list[tuple[str, str]]:
            async with db.session() as s:
                rows = await s.execute(select(InboundSpool.channel, func.count()).group_by(InboundSpool.channel))
                return sorted(rows.all())

        assert await eventually(spooled, "the SMS and the mail are stored") == [("email", 1), ("sms", 1)]
    finally:
        proxy.terminate()
        gw.terminate()
        _, err = gw.communicate(timeout=30)
        proxy.communicate(timeout=10)
        await db.dispose()
    assert gw.returncode == 0 and "Traceback" not in err, err
