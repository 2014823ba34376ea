from gateway.core.messages import Channel, InboundMessage, Outcome


async def test_a_message_becomes_a_case(ctx):
    res = await ctx.intake.submit(
        InboundMessage(Channel.SMS, "سلام، شکایت دارم", external_id="1", provider="kannel", sender="+989121234567")
    )
    assert res.outcome is Outcome.CREATED and len(res.case_code) == 10
