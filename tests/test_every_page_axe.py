"""Every HTML page the app serves passes axe-core, in Persian and in English.

The pages are not listed by hand: the test walks the app's GET routes, so a page added
later is checked without anyone remembering to.  Route parameters are filled from real
data (a case, a service, a unit); routes that serve files, data or machines (API, CSV,
Open311, static, health, metrics, attachments, tokens) are left to their own tests.
"""

from __future__ import annotations

import re

import pytest

from gateway.web.app import create_app
from tests.peers.axe import assert_accessible
from tests.test_staff_browser import base_url
from tests.test_staff_support import PASSWORD, make_staff, submit

NOT_PAGES = re.compile(
    r"^/(api|static|open311|healthz|metrics)\b|\.(csv|json|xml|pdf|png|vcf)$|"
    r"/attachments/|/s/|token|logout"
)
LOCALES = {"fa": "fa-IR", "en": "en-GB"}


PARAM = re.compile(r"\{(\w+)(?::([^}]*))?\}")


def expand(template: str) -> list[str]:
    """A parameter whose pattern is a list of words (``{scope:service|unit}``) becomes one
    template per word."""
    found = next((m for m in PARAM.finditer(template) if m.group(2) and re.fullmatch(r"[\w|-]+", m.group(2))), None)
    if found is None:
        return [template]
    return [
        t
        for word in found.group(2).split("|")
        for t in expand(template[: found.start()] + word + template[found.end() :])
    ]


def fill(template: str, values: dict[str, str]) -> str | None:
    """A route template with its parameters filled: a code is a service's on service pages,
    a unit's on unit pages, else a case's (None if a parameter has no value)."""
    scope = "service" if "/service" in template else "unit" if "/unit" in template else "case"
    names = [m.group(1) for m in PARAM.finditer(template)]
    if any(f"{scope}:{n}" not in values and n not in values for n in names):
        return None
    return PARAM.sub(lambda m: values.get(f"{scope}:{m.group(1)}", values.get(m.group(1), "")), template)


def page_paths(ctx, values: dict[str, str]) -> list[str]:
    """The app's GET pages, with ``{name}`` parameters filled from ``values``."""
    app = create_app(ctx)
    paths = set()
    for resource in app.router.resources():
        info = resource.get_info()
        template = info.get("path") or info.get("formatter") or ""
        if "pattern" in info:  # aiohttp keeps {name:pattern} patterns only in the regex
            for name, choices in re.findall(r"\(\?P<(\w+)>([\w|-]+)\)", info["pattern"].pattern):
                template = template.replace(f"{{{name}}}", f"{{{name}:{choices}}}")
        if not template or NOT_PAGES.search(template):
            continue
        if not any(route.method == "GET" for route in resource):
            continue
        for one in expand(template):
            path = fill(one, values)
            if path is not None:
                paths.add(path)
    return sorted(paths)


@pytest.mark.parametrize("lang", ["fa", "en"])
async def test_every_page_passes_axe(ctx, browser, base_url, lang):
    await make_staff(ctx, "overseer", "oversight", "oversight")
    code = (await submit(ctx, "گزارش تخلف در اداره", kind=None)).case_code
    service, unit = ctx.config.services[0].code, ctx.config.units[0].code
    values = {"code": code, "service:code": service, "service_code": service, "unit:code": unit}
    paths = page_paths(ctx, values)
    assert "/staff/cases" in paths and "/track" in paths and len(paths) >= 8, paths
    page = await browser.new_page(java_script_enabled=False, locale=LOCALES[lang])
    try:
        await page.goto(f"{base_url}/staff/login")
        await page.fill("#login-name", "overseer")
        await page.fill("#login-password", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        checked = []
        for path in paths:
            response = await page.goto(f"{base_url}{path}")
            assert response is not None and response.status < 500, path
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            assert await page.get_attribute("html", "lang") == lang, path
            await assert_accessible(page, f"{path} ({lang})")
            checked.append(path)
        assert len(checked) >= 12, checked
    finally:
        await page.close()
