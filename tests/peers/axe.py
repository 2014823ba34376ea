"""axe-core accessibility checks in the browser tests (Deque's axe-core, the copy that the
PyPI package ``axe-playwright-python`` ships).

``await assert_accessible(page, "name")`` injects axe into the loaded page, runs the default
rule set (WCAG 2.x A/AA and best practices) and fails with each violation's rule, impact and
offending elements.  Playwright's ``evaluate`` runs outside the page's Content-Security-Policy,
so pages keep ``script-src 'none'``; pages tested with JavaScript off are checked on a
scripted twin (see :func:`axe_violations`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from tests.peers import require


@cache
def axe_source() -> str:
    """The axe-core script text."""
    try:
        return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        require(False, "axe-playwright-python not installed (pip install -e '.[test]')")
        raise


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; the list of violations (empty when clean).

    Our pages are tested with JavaScript off, so the page's current HTML is served again, at
    the same address (same origin, same style sheets), to a scripted twin page that runs axe.
    """
    html, url = await page.content(), page.url
    twin_context = await page.context.browser.new_context(
        viewport=page.viewport_size, java_script_enabled=True, bypass_csp=True
    )
    try:
        twin = await twin_context.new_page()
        await twin.route(
            url, lambda route: route.fulfill(body=html, status=200, content_type="text/html; charset=utf-8")
        )
        await twin.goto(url)
        await twin.evaluate(axe_source())
        result = await twin.evaluate("axe.run(document, {resultTypes: ['violations']})")
    finally:
        await twin_context.close()
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    """One readable paragraph per violated rule."""
    lines = []
    for v in violations:
        targets = [json.dumps(n.get("target")) for n in v.get("nodes", [])[:5]]
        lines.append(f"{v['id']} ({v.get('impact')}): {v.get('help')}\n    " + "\n    ".join(targets))
    return "\n".join(lines)


async def assert_accessible(page: Any, name: str) -> None:
    """Fail the test if axe finds any violation on the page (``name`` says which page)."""
    violations = await axe_violations(page)
    assert not violations, f"axe-core violations on {name}:\n{describe(violations)}"
