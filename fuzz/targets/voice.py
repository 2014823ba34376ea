"""Voice: FastAGI requests through a running FastAGI server (environment and command
replies), AMI frames and events, and the dialplan's sidecar files and recordings."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import strategies as st

from fuzz.harness import AppEnv, target
from gateway.channels.voice.agi import AgiProtocolError, parse_reply
from gateway.channels.voice.ami_frames import parse_frame
from gateway.channels.voice.parse import caller_e164, parse_sidecar, uniqueid_from_event, wav_info

LINE = st.text(st.characters(exclude_characters="\r\n"), max_size=60)
DIGITS = st.text(st.sampled_from("0123456789۰۱۲۳۴۵۶۷۸۹*#"), max_size=12)
VALUE = st.one_of(LINE, DIGITS, st.sampled_from(["", "anonymous", "09121234567", "+989121234567", "unknown"]))


@target("voice.agi.reply", LINE, allowed=(AgiProtocolError,))
def agi_reply(line: str) -> None:
    parse_reply(line)


@target(
    "voice.ami.frame",
    st.one_of(
        st.binary(max_size=600),
        st.lists(
            st.tuples(st.sampled_from(["Event", "UserEvent", "GwFile", "GwStatus", "GwCase", "Uniqueid", "X"]), VALUE),
            max_size=8,
        ).map(lambda pairs: "".join(f"{k}: {v}\r\n" for k, v in pairs).encode("utf-8", "surrogatepass")),
    ),
)
def ami_frame(raw: bytes) -> None:
    message = parse_frame(raw)
    uniqueid_from_event({k.lower(): v for k, v in message.headers().items()})


SIDECAR_KEYS = st.sampled_from(["callerid", "category", "started", "case", "status", "ended", "x"])
SIDECARS = st.one_of(
    st.text(max_size=400),
    st.lists(st.tuples(SIDECAR_KEYS, VALUE), max_size=8).map(lambda pairs: "".join(f"{k}={v}\n" for k, v in pairs)),
)
WAV_HEADER = (
    b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data"
)


@target(
    "voice.sidecar",
    st.tuples(
        SIDECARS, st.one_of(st.binary(max_size=300), st.binary(max_size=200).map(lambda b: WAV_HEADER + b)), VALUE
    ),
)
def sidecar(case: tuple[str, bytes, str]) -> None:
    text, wav, caller = case
    parse_sidecar(text, "1700000000.1")
    wav_info(wav)
    caller_e164(caller)


AGI_ENV = st.fixed_dictionaries(
    {"agi_network_script": st.one_of(st.sampled_from(["reserve-case", "case-status", "survey", "/survey?x=1"]), LINE)},
    optional={
        "agi_callerid": VALUE,
        "agi_uniqueid": st.one_of(st.just("1700000000.42"), LINE),
        "agi_arg_1": VALUE,
        "agi_arg_2": VALUE,
        "agi_arg_3": VALUE,
        "agi_channel": LINE,
    },
)
AGI_REPLIES = st.lists(
    st.one_of(
        st.builds(lambda d: f"200 result={d}", DIGITS),
        st.just("200 result=-1"),
        st.just("511 Command Not Permitted on a dead channel"),
        st.just("HANGUP"),
        LINE,
    ),
    max_size=12,
)


@target(
    "voice.agi.session",
    st.tuples(AGI_ENV, AGI_REPLIES, st.binary(max_size=80)),
    config={
        "voice": {
            "enabled": True,
            "spool_dir": "voice-spool",
            "agi": {"port": 0},
            "ami": {"port": 9, "reconnect_max_seconds": 60},
        }
    },
)
async def agi_session(case: tuple[dict[str, str], list[str], bytes], env: AppEnv) -> None:
    """A dialplan call (or anyone reaching the port) sends any environment and any replies:
    the server answers or hangs up, never fails (a route failure is logged as an error)."""
    agi_env, replies, junk = case
    voice: Any = next(p for p in env.plugins if p.name == "voice")
    reader, writer = await asyncio.open_connection("127.0.0.1", voice.agi.port)
    try:
        head = "".join(f"{k}: {v}\n" for k, v in agi_env.items()).encode("utf-8", "surrogatepass")
        writer.write(head + junk.replace(b"\n", b" ") + b"\n\n")
        for reply in replies:
            try:
                if not await asyncio.wait_for(reader.readline(), 1.0):
                    break
            except TimeoutError:
                break
            writer.write(reply.encode("utf-8", "surrogatepass") + b"\n")
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
    await asyncio.sleep(0.01)  # let the server finish the session and log what it must
