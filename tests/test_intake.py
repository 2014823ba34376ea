"""core.intake: outcomes, idempotency, threading, classification, bad input."""

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.core import tracking
from gateway.core.calendar import work_calendar
from gateway.core.messages import Channel, InboundAttachment, InboundMessage, Intent, Kind, Outcome
from gateway.core.models import Attachment, Case, InboundKey, Message, Outbox

PHONE = "+989121234567"
OTHER = "+989351112233"


def sms(text, ext=None, sender=PHONE, **kw):
    return InboundMessage(Channel.SMS, text, external_id=ext, provider="kannel", sender=sender, **kw)


async def count(ctx, model, *where):
    async with ctx.db.session() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def get_case(ctx, code):
    async with ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == code))).scalar_one()


async def test_new_case_is_routed_acknowledged_and_has_a_valid_code(ctx):
    res = await ctx.intake.submit(sms("شکایت از کارمند باجه", "m1"))
    assert res.outcome is Outcome.CREATED and tracking.is_valid(res.case_code)
    case = await get_case(ctx, res.case_code)
    assert (case.kind, case.status, case.unit_code, case.contact) == ("complaint", "routed", "pr", PHONE)
    assert case.due_at is not None and case.language == "fa"
    async with ctx.db.session() as s:
        ack = (await s.execute(select(Outbox).where(Outbox.case_id == case.id))).scalar_one()
    assert ack.purpose == "ack" and ack.recipient == PHONE and ack.channel == "sms"
    assert tracking.display(res.case_code) in ack.text


async def test_same_external_id_twice_is_one_case(ctx):
    first = await ctx.intake.submit(sms("سلام", "dup-1"))
    again = await ctx.intake.submit(sms("سلام", "dup-1"))
    assert again.outcome is Outcome.DUPLICATE and again.case_code == first.case_code
    assert await count(ctx, Case) == 1 and await count(ctx, Outbox) == 1


async def test_concurrent_twins_yield_one_case(ctx):
    results = await asyncio.gather(*(ctx.intake.submit(sms("همزمان", "twin")) for _ in range(20)))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count("created") == 1 and outcomes.count("duplicate") == 19
    assert len({r.case_code for r in results}) == 1
    assert await count(ctx, Case) == 1


async def test_concurrent_submissions_share_commits(ctx):
    before = ctx.intake.batches
    results = await asyncio.gather(*(ctx.intake.submit(sms(f"پیام {i}", f"c{i}")) for i in range(60)))
    assert all(r.outcome is Outcome.CREATED for r in results)
    assert len({r.case_code for r in results}) == 60
    assert ctx.intake.batches - before < 60  # group commit: fewer transactions than messages


async def test_twins_from_two_writers_on_one_database(ctx, config):
    """Two processes' writers (two contexts) race on the same external id: one case."""
    from gateway.core.runtime import running_context

    async with running_context(config, migrate=False, dispatch=False) as other:
        results = await asyncio.gather(*(w.intake.submit(sms("race", "race-1")) for w in (ctx, other, ctx, other)))
    assert sorted(r.outcome.value for r in results) == ["created", "duplicate", "duplicate", "duplicate"]
    assert await count(ctx, Case) == 1


async def test_code_from_same_contact_appends_and_reopens(ctx):
    first = await ctx.intake.submit(sms("درخواست دارم", "a1"))
    async with ctx.db.session() as s:
        case = (await s.execute(select(Case).where(Case.code == first.case_code))).scalar_one()
        case.status = "answered"
    reply = await ctx.intake.submit(sms("پیرو درخواست قبلی", "a2", tracking_code=first.case_code))
    assert reply.outcome is Outcome.APPENDED and reply.case_code == first.case_code
    assert (await get_case(ctx, first.case_code)).status == "routed"
    assert await count(ctx, Outbox) == 1  # follow-ups are not acknowledged again


async def test_code_from_another_contact_opens_a_new_related_case(ctx):
    first = await ctx.intake.submit(sms("درخواست", "b1"))
    other = await ctx.intake.submit(sms(f"درباره {first.case_code}", "b2", sender=OTHER, body_codes=[first.case_code]))
    assert other.outcome is Outcome.CREATED and other.case_code != first.case_code
    assert (await get_case(ctx, other.case_code)).related_case_id == first.case_id
    assert await count(ctx, Message, Message.case_id == first.case_id, Message.direction == "in") == 1


async def test_reply_to_our_message_id_threads(ctx):
    first = await ctx.intake.submit(
        InboundMessage(Channel.EMAIL, "hello", external_id="<x@a>", provider="smtp", sender="a@b.ir")
    )
    async with ctx.db.session() as s:
        ours = (await s.execute(select(Outbox.idempotency_key).where(Outbox.case_id == first.case_id))).scalar_one()
    assert tracking.is_valid(first.case_code) and ours.startswith("<")
    reply = await ctx.intake.submit(
        InboundMessage(
            Channel.EMAIL, "more", external_id="<y@a>", provider="smtp", sender="A@B.ir", thread_refs=["<x@a>", ours]
        )
    )
    assert reply.outcome is Outcome.APPENDED and reply.case_code == first.case_code


async def test_same_contact_within_window_when_the_channel_asks(ctx):
    window = {"thread_by_contact": True, "follow_up_window_hours": 24}
    first = await ctx.intake.submit(sms("جاده خراب است", "w1", **window))
    again = await ctx.intake.submit(sms("هنوز خراب است", "w2", **window))
    assert again.outcome is Outcome.APPENDED and again.case_code == first.case_code
    assert (await get_case(ctx, first.case_code)).unit_code == "roads"


async def test_automatic_mail_never_opens_a_case_but_threads(ctx):
    ignored = await ctx.intake.submit(
        InboundMessage(Channel.EMAIL, "Out of office", sender="bot@x.ir", external_id="<auto1@x>", automatic=True)
    )
    assert ignored.outcome is Outcome.IGNORED and ignored.reason == "automatic"
    first = await ctx.intake.submit(sms("سلام", "t1"))
    threaded = await ctx.intake.submit(sms("auto", "t2", automatic=True, tracking_code=first.case_code))
    assert threaded.outcome is Outcome.APPENDED
    assert await count(ctx, Case) == 1 and await count(ctx, Outbox) == 1


async def test_violation_report_goes_to_oversight_and_is_confidential(ctx):
    res = await ctx.intake.submit(sms("گزارش تخلف: درخواست رشوه در باجه ۳", "v1"))
    case = await get_case(ctx, res.case_code)
    assert (case.kind, case.unit_code, case.confidential) == ("violation_report", "oversight", True)


async def test_service_code_routes_to_the_service_unit_and_sla(ctx):
    res = await ctx.intake.submit(InboundMessage(Channel.WEB, "لطفاً ترمیم کنید", service_code="20001"))
    case = await get_case(ctx, res.case_code)
    assert case.unit_code == "roads" and case.service_code == "20001" and case.anonymous
    # 15 working days (weekends and official holidays of Iran skipped, gateway.core.calendar)
    cal = work_calendar(ctx.config.calendar, ctx.config.gateway.timezone)
    assert case.due_at == cal.due_at(case.created_at, 15)
    assert cal.working_days_between(cal.local_date(case.created_at), cal.local_date(case.due_at)) == 15


async def test_english_message_gets_english_ack(ctx):
    res = await ctx.intake.submit(
        InboundMessage(Channel.EMAIL, "I have a complaint", sender="a@b.org", external_id="<e1@b>")
    )
    async with ctx.db.session() as s:
        ack = (await s.execute(select(Outbox).where(Outbox.case_id == res.case_id))).scalar_one()
    assert ack.language == "en" and res.case_code in ack.text


async def test_attachments_are_stored_by_content(ctx):
    data = b"RIFF....WAVE fake audio"
    res = await ctx.intake.submit(
        InboundMessage(
            Channel.VOICE,
            "voice mail",
            sender=PHONE,
            external_id="call-1",
            attachments=[InboundAttachment("../../etc/passwd", "audio/wav", data)],
        )
    )
    async with ctx.db.session() as s:
        att = (await s.execute(select(Attachment))).scalar_one()
    assert att.filename == "passwd" and att.size == len(data)
    assert await ctx.store.get(att.sha256) == data and res.outcome is Outcome.CREATED


# -- bad input: the defined outcome, never a traceback ------------------------------------


async def test_empty_message_is_rejected_with_help_reply(ctx):
    res = await ctx.intake.submit(sms("  \u200f ", "e1"))
    assert (res.outcome, res.reason) == (Outcome.REJECTED, "empty")
    async with ctx.db.session() as s:
        help_row = (await s.execute(select(Outbox))).scalar_one()
    assert help_row.purpose == "help" and help_row.recipient == PHONE


async def test_one_megabyte_message_is_kept_whole(ctx):
    text = ("کلمه " * 200_000)[:1_000_000]
    res = await ctx.intake.submit(sms(text, "big"))
    assert res.outcome is Outcome.CREATED
    async with ctx.db.session() as s:
        msg = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
        att = (await s.execute(select(Attachment))).scalar_one()
    assert len(msg.text) <= ctx.config.intake.max_text_chars + 2
    assert (await ctx.store.get(att.sha256)).decode() == text.strip()


@pytest.mark.parametrize("typed,reason", [("1234567890", "check_digit"), ("12345", "format")])
async def test_status_query_with_bad_code(ctx, typed, reason):
    res = await ctx.intake.submit(sms(typed, f"q-{typed}", intent=Intent.STATUS_QUERY, tracking_code=typed))
    assert (res.outcome, res.reason) == (Outcome.REJECTED, reason)
    assert "کد" in res.reply_text


async def test_status_query_unknown_code(ctx):
    code = tracking.generate()
    res = await ctx.intake.submit(sms(code, "q1", intent=Intent.STATUS_QUERY, tracking_code=code))
    assert (res.outcome, res.reason) == (Outcome.REJECTED, "unknown_code")
    assert await count(ctx, Case) == 0


async def test_status_query_shows_answer_only_to_origin_number(ctx):
    first = await ctx.intake.submit(sms("درخواست", "s1"))
    async with ctx.db.session() as s:
        case = (await s.execute(select(Case).where(Case.code == first.case_code))).scalar_one()
        from gateway.core.models import utcnow
        from gateway.core.outbox import queue_outbound

        await queue_outbound(
            s, channel="sms", purpose="answer", recipient=PHONE, text="پاسخ محرمانه", key="k-answer", case=case
        )
        case.status, case.answered_at = "answered", utcnow()
    own = await ctx.intake.submit(sms(first.case_code, "s2", intent=Intent.STATUS_QUERY, tracking_code=first.case_code))
    stranger = await ctx.intake.submit(
        sms(first.case_code, "s3", sender=OTHER, intent=Intent.STATUS_QUERY, tracking_code=first.case_code)
    )
    assert own.outcome is Outcome.STATUS and "پاسخ محرمانه" in own.reply_text
    assert stranger.outcome is Outcome.STATUS and "پاسخ محرمانه" not in stranger.reply_text
    assert PHONE not in stranger.reply_text


async def test_retried_status_query_is_answered_once(ctx):
    first = await ctx.intake.submit(sms("درخواست", "r1"))
    for _ in range(3):
        await ctx.intake.submit(sms(first.case_code, "r2", intent=Intent.STATUS_QUERY, tracking_code=first.case_code))
    assert await count(ctx, Outbox, Outbox.purpose == "status") == 1
    assert await count(ctx, InboundKey) == 2


async def test_tracking_code_clash_is_retried(ctx, monkeypatch):
    first = await ctx.intake.submit(sms("اول", "k1"))
    fresh = tracking.generate()
    while fresh == first.case_code:
        fresh = tracking.generate()
    queue = [first.case_code, first.case_code, fresh]
    monkeypatch.setattr(tracking, "generate", lambda: queue.pop(0))
    second = await ctx.intake.submit(sms("دوم", "k2", sender=OTHER))
    assert second.outcome is Outcome.CREATED and second.case_code == fresh and not queue


async def test_reserve_opens_a_case_without_text(ctx):
    res = await ctx.intake.submit(
        InboundMessage(
            Channel.VOICE, "", external_id="reserve:1", sender=PHONE, intent=Intent.RESERVE, acknowledge=False
        )
    )
    assert res.outcome is Outcome.CREATED
    rec = await ctx.intake.submit(
        InboundMessage(Channel.VOICE, "پیام صوتی", external_id="1", sender=PHONE, tracking_code=res.case_code)
    )
    assert rec.outcome is Outcome.APPENDED and rec.case_code == res.case_code
    assert await count(ctx, Outbox) == 0


async def test_kind_hint_wins_over_keywords(ctx):
    res = await ctx.intake.submit(sms("شکایت", "h1", kind_hint=Kind.SUGGESTION))
    assert (await get_case(ctx, res.case_code)).kind == "suggestion"


# -- the batch fast path and its fallback --------------------------------------------------


async def test_fast_path_and_per_message_path_give_the_same_case(ctx, monkeypatch):
    from gateway.core.intake import batch

    fast = await ctx.intake.submit(sms("پیشنهاد: ساعت کاری بیشتر", "fp1"))
    monkeypatch.setattr(batch, "is_plain", lambda m, limit: False)
    slow = await ctx.intake.submit(sms("پیشنهاد: ساعت کاری بیشتر", "fp2", sender=OTHER))

    async def shape(res):
        async with ctx.db.session() as s:
            case = (await s.execute(select(Case).where(Case.code == res.case_code))).scalar_one()
            msgs = (
                await s.execute(
                    select(Message.direction, Message.text).where(Message.case_id == case.id).order_by(Message.id)
                )
            ).all()
            outs = (await s.execute(select(Outbox.purpose, Outbox.channel).where(Outbox.case_id == case.id))).all()
            keys = (
                await s.execute(select(InboundKey.outcome, InboundKey.message_id).where(InboundKey.case_id == case.id))
            ).all()
        return (
            case.kind,
            case.status,
            case.unit_code,
            case.language,
            [d for d, _ in msgs],
            outs,
            [(o, m is not None) for o, m in keys],
        )

    assert await shape(fast) == await shape(slow)


async def test_a_failing_fast_path_falls_back_to_one_savepoint_per_message(ctx, monkeypatch):
    from gateway.core.intake import batch

    def broken(*args, **kwargs):
        raise ValueError("simulated bad item")

    monkeypatch.setattr(batch, "insert_plain", broken)
    results = await asyncio.gather(*(ctx.intake.submit(sms(f"متن {i}", f"fb{i}")) for i in range(10)))
    assert all(r.outcome is Outcome.CREATED for r in results)
    assert await count(ctx, Case) == 10


async def test_two_texts_from_one_number_in_one_batch_make_one_case(ctx):
    window = {"thread_by_contact": True, "follow_up_window_hours": 24}
    results = await asyncio.gather(*(ctx.intake.submit(sms(f"بخش {i}", f"mp{i}", **window)) for i in range(3)))
    assert sorted(r.outcome.value for r in results) == ["appended", "appended", "created"]
    assert len({r.case_code for r in results}) == 1


async def test_a_bounce_quoting_our_message_id_is_kept_on_the_case(ctx):
    first = await ctx.intake.submit(
        InboundMessage(Channel.EMAIL, "سلام", external_id="<c1@x>", provider="email", sender="citizen@x.ir")
    )
    async with ctx.db.session() as s:
        ours = (await s.execute(select(Outbox.idempotency_key).where(Outbox.case_id == first.case_id))).scalar_one()
    bounce = await ctx.intake.submit(
        InboundMessage(
            Channel.EMAIL,
            "Delivery failed",
            external_id="<b1@mx>",
            provider="email",
            sender="MAILER-DAEMON@mx.example",
            automatic=True,
            thread_refs=[ours],
        )
    )
    assert bounce.outcome is Outcome.APPENDED and bounce.case_code == first.case_code
    forged = await ctx.intake.submit(
        InboundMessage(
            Channel.EMAIL,
            "x",
            external_id="<b2@mx>",
            provider="email",
            sender="bot@mx.example",
            automatic=True,
            thread_refs=["<not-ours@feedback.example.ir>"],
        )
    )
    assert forged.outcome is Outcome.IGNORED
    assert await count(ctx, Outbox) == 1 and (await get_case(ctx, first.case_code)).status == "routed"
