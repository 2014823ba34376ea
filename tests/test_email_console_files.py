"""Item 11 on the staff console: a mail with many files shows them a page at a time (50 per
message and page), with the count and links to the other pages; the JSON API still lists all."""

from __future__ import annotations

import re

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.core.context import GatewayContext
from tests.test_email_hardening import make_hardening
from tests.test_staff_console import login
from tests.test_staff_support import make_staff, staff_client

FILE_LINK = re.compile(r'href="/staff/cases/\d+/attachments/\d+"')


async def test_case_page_pages_through_files(ctx: GatewayContext, staff_client) -> None:
    raw = make_hardening.heavy_mail(attachments=120)
    result = await MailIntake(ctx).ingest(raw, Envelope("import", acknowledge=False))
    await make_staff(ctx, "leila", "pr")
    assert (await login(staff_client, "leila")).status == 303
    pages = {n: await (await staff_client.get(f"/staff/cases/{result.case_code}?files={n}")).text() for n in (1, 2, 3)}
    assert [len(FILE_LINK.findall(pages[n])) for n in (1, 2, 3)] == [50, 50, 20]
    assert "f0.txt" in pages[1] and "f50.txt" in pages[2] and "f119.txt" in pages[3]
    assert 'href="?files=2"' in pages[1] and 'href="?files=1"' not in pages[1]
    assert 'href="?files=2"' in pages[3] and 'href="?files=4"' not in pages[3]
    assert "۵۰ پیوست از ۱۲۰ در این صفحه" in pages[1]
    odd = await (await staff_client.get(f"/staff/cases/{result.case_code}?files=x")).text()
    assert len(FILE_LINK.findall(odd)) == 50  # a bad page number is page 1
