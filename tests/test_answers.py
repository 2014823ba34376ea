"""Answers go back over the citizen's channel, with the survey, in one transaction.

Until a channel's real sender is registered, the FileSender stands in: these tests run the
dispatcher once and read what it wrote under ``data_dir/outbox/<channel>/``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.core import answers
from gateway.core.access import Viewer
from gateway.core.messages import Channel, InboundAttachment, InboundMessage, Intent, Kind, Outcome
from gateway.core.models import AuditEvent, Case, Staff, SurveyInvitation, SurveyResponse
from gateway.core.sla import queue_daily_digests
from tests.test_staff_support import auth, make_staff, outbox_rows, send_all, sent_files, staff_client, submit


async def _case(ctx, code: str) -> Case:
    async with ctx.db.session() as s:
        return (await s.execute(select(Case).where(Case.code == code))).scalar_one()


async def _events(ctx, code: str) -> list[AuditEvent]:
    case = await _case(ctx, code)
    async with ctx.db.session() as s:
        return list(
            (await s.execute(select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id))).scalars()
        )


async def _viewer(ctx, name: str, unit: str, role: str = "staff") -> Viewer:
    await make_staff(ctx, name, unit, role, password=None)
    async with ctx.db.session() as s:
        return Viewer.of((await s.execute(select(Staff).where(Staff.name == name))).scalar_one())


async def test_sms_answer_via_api_arrives_with_digit_survey(ctx, staff_client):
    token = await make_staff(ctx, "answerer", "pr")
    code = (await submit(ctx, "سلام، درخواست پروانه دارم", sender="+989121111111")).case_code
    resp = await staff_client.post(
        f"/api/v1/cases/{code}/answer", headers=auth(token), json={"text": "پروانه شما صادر شد."}
    )
    assert resp.status == 200, await resp.text()
    result = await resp.json()
    assert result["status"] == "answered" and result["channel"] == "sms" and result["survey"]
    answer_row, survey_row = [r for r in await outbox_rows(ctx) if r.id in result["outbox_ids"]]
    assert survey_row.next_attempt_at > answer_row.next_attempt_at  # never overtakes the answer
    await send_all(ctx)
    sent = [m for m in sent_files(ctx, "sms") if m["case"] == code]
    assert [m["purpose"] for m in sent] == ["ack", "answer", "survey"]
    answer, survey = sent[1], sent[2]
    assert answer["to"] == "+989121111111" and "پروانه شما صادر شد." in answer["text"]
    assert answer["payload"]["link"].startswith(f"http://gw.test/track?code={code}&t=")
    assert "۱ تا ۵" in survey["text"]
    case = await _case(ctx, code)
    assert case.status == "answered" and case.answered_at and case.first_response_at
    # the citizen's digits land on the invitation (core replies.record_survey_reply)
    res = await ctx.intake.submit(
        InboundMessage(
            Channel.SMS,
            "45342",
            external_id="survey-1",
            provider="test",
            sender="+989121111111",
            intent=Intent.SURVEY_RESPONSE,
            survey_answers=[4, 5, 3, 4, 2],
        )
    )
    assert res.outcome is Outcome.SURVEY and res.case_code == code
    async with ctx.db.session() as s:
        row = (await s.execute(select(SurveyResponse))).scalar_one()
    assert (
        row.answers == {"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 4}
        and row.improper_request is False
    )


async def test_email_answer_threads_and_carries_survey_link(ctx, staff_client):
    token = await make_staff(ctx, "mailer", "pr")
    first = await submit(
        ctx,
        "درخواست گواهی دارم",
        channel=Channel.EMAIL,
        sender="ali@example.com",
        external_id="<m1@example.com>",
        subject="درخواست گواهی",
    )
    await ctx.intake.submit(
        InboundMessage(
            Channel.EMAIL,
            "پیگیری: هنوز خبری نشد",
            external_id="<m2@example.com>",
            sender="ali@example.com",
            tracking_code=first.case_code,
        )
    )
    code = first.case_code
    resp = await staff_client.post(
        f"/api/v1/cases/{code}/answer", headers=auth(token), json={"text": "گواهی آماده است.", "close": True}
    )
    assert (await resp.json())["status"] == "closed"
    await send_all(ctx)
    mails = {m["purpose"]: m for m in sent_files(ctx, "email") if m["case"] == code}
    answer, survey = mails["answer"], mails["survey"]
    assert answer["to"] == "ali@example.com" and f"[#{code}]" in answer["subject"]
    assert answer["payload"]["in_reply_to"] == "<m2@example.com>"
    assert answer["payload"]["references"][0] == "<m1@example.com>"
    assert answer["payload"]["references"][-1] == "<m2@example.com>"
    assert survey["payload"]["link"].startswith("http://gw.test/s/")
    assert survey["payload"]["link"] in survey["text"]
    case = await _case(ctx, code)
    assert case.status == "closed" and case.closed_at is not None


@pytest.mark.parametrize(
    "sender, channel",
    [
        pytest.param("+989351234567", "sms", id="iranian-mobile-gets-sms"),
        pytest.param("+982188776655", "voice", id="landline-gets-voice-row"),
    ],
)
async def test_voice_answers_go_by_sms_to_mobiles(ctx, sender, channel):
    viewer = await _viewer(ctx, "voice-answerer", "pr")
    code = (
        await submit(
            ctx,
            "",
            channel=Channel.VOICE,
            sender=sender,
            attachments=[InboundAttachment("v.wav", "audio/wav", b"RIFF")],
        )
    ).case_code
    result = await answers.answer_case(ctx, viewer, code, "پاسخ شما")
    rows = [r for r in await outbox_rows(ctx) if r.id in result.outbox_ids]
    assert [(r.channel, r.purpose) for r in rows] == [(channel, "answer"), (channel, "survey")]
    async with ctx.db.session() as s:
        inv = (await s.execute(select(SurveyInvitation))).scalar_one()
    assert inv.channel == channel  # the digits reply comes back on this channel


async def test_reanswer_is_audited_and_survey_sent_once(ctx):
    viewer = await _viewer(ctx, "editor", "pr")
    code = (await submit(ctx, "درخواست دارم", sender="+989120000002")).case_code
    await answers.answer_case(ctx, viewer, code, "پاسخ اول")
    second = await answers.answer_case(ctx, viewer, code, "پاسخ اصلاح‌شده")
    assert not second.survey and len(second.outbox_ids) == 1
    events = [e for e in await _events(ctx, code) if e.action in ("answered", "reanswered")]
    assert [e.action for e in events] == ["answered", "reanswered"]
    assert events[1].detail["previous_text"] == "پاسخ اول" and events[1].actor == "staff:editor"
    assert len(await outbox_rows(ctx, "survey")) == 1


@pytest.mark.parametrize(
    "sender, survey",
    [
        pytest.param("no-reply@example.com", False, id="no-reply-address"),
        pytest.param("citizen@example.com", True, id="normal-address"),
    ],
)
async def test_no_survey_for_no_reply_addresses(ctx, sender, survey):
    viewer = await _viewer(ctx, "surveyor", "pr")
    code = (await submit(ctx, "درخواست", channel=Channel.EMAIL, sender=sender)).case_code
    assert (await answers.answer_case(ctx, viewer, code, "پاسخ")).survey is survey


async def test_anonymous_case_answer_is_kept_not_sent(ctx):
    viewer = await _viewer(ctx, "anon", "pr")
    code = (await submit(ctx, "پیشنهاد بی‌نام", channel=Channel.WEB, sender=None)).case_code
    result = await answers.answer_case(ctx, viewer, code, "ممنون از پیشنهاد")
    assert result.channel is None and result.outbox_ids == [] and result.status == "answered"


async def test_assign_note_and_kind_are_audited(ctx):
    pr = await _viewer(ctx, "router", "pr")
    code = (await submit(ctx, "درخواست دارم", sender="+989120000003")).case_code
    await answers.add_note(ctx, pr, code, "به واحد راه مربوط است")
    await answers.assign_case(ctx, pr, code, "roads")
    with pytest.raises(answers.CaseActionError) as err:  # no longer pr's case
        await answers.add_note(ctx, pr, code, "x")
    assert err.value.code == "not_found"
    roads = await _viewer(ctx, "roadie", "roads")
    await answers.change_kind(ctx, roads, code, Kind.VIOLATION_REPORT.value)
    case = await _case(ctx, code)
    assert case.unit_code == "oversight" and case.confidential
    with pytest.raises(answers.CaseActionError):  # roads cannot see it any more
        await answers.add_note(ctx, roads, code, "x")
    assert [e.action for e in await _events(ctx, code)][-3:] == ["note_added", "assigned", "kind_changed"]


async def test_violation_report_cannot_be_assigned_away(ctx):
    ov = await _viewer(ctx, "inspector", "oversight", "oversight")
    code = (await submit(ctx, "گزارش تخلف", kind=Kind.VIOLATION_REPORT)).case_code
    with pytest.raises(answers.CaseActionError) as err:
        await answers.assign_case(ctx, ov, code, "pr")
    assert err.value.code == "forbidden_for_kind"


async def test_daily_digest_queued_once_per_unit_and_day(make_config):
    from gateway.core.runtime import running_context

    cfg = make_config(
        units=[
            {"code": "oversight", "name": "حراست", "email": "ov@example.ir"},
            {"code": "pr", "name": "روابط عمومی", "email": "pr@example.ir"},
            {"code": "roads", "name": "راه"},
        ]
    )
    async with running_context(cfg, migrate=False, dispatch=False) as ctx:
        code = (await submit(ctx, "درخواست قدیمی", sender="+989120000004")).case_code
        await submit(ctx, "درخواست تازه", sender="+989120000005")
        later = (await _case(ctx, code)).due_at + timedelta(hours=1)
        assert await queue_daily_digests(ctx, later) == ["pr"]  # roads has no address
        assert await queue_daily_digests(ctx, later) == []  # same day: once
        rows = await outbox_rows(ctx, "digest")
        assert len(rows) == 1 and rows[0].recipient == "pr@example.ir"
        assert code in rows[0].text and "+98912" not in rows[0].text
