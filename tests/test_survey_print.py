"""``gateway poster``: the A4 poster's QR code decodes to the survey page (zbarimg), the
text is Persian (pdftotext); the paper form; both saved as test artifacts."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import pytest

from gateway.cli_surveys import cmd_poster
from tests.peers import require_binary
from tests.test_survey_report import plain


def _png(pdf: Path) -> list[Path]:
    pdftoppm = require_binary("pdftoppm", "poppler-utils")
    stem = pdf.with_suffix("")
    subprocess.run([pdftoppm, "-r", "100", "-png", str(pdf), str(stem)], check=True, timeout=120)
    return sorted(pdf.parent.glob(f"{stem.name}-*.png"))


def _text(pdf: Path) -> str:
    pdftotext = require_binary("pdftotext", "poppler-utils")
    return plain(
        subprocess.run([pdftotext, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60).stdout
    )


def _qr(png: Path) -> list[str]:
    zbarimg = require_binary("zbarimg", "zbar-tools")
    out = subprocess.run([zbarimg, "--quiet", "--raw", str(png)], capture_output=True, text=True, timeout=60)
    return [line for line in out.stdout.splitlines() if line]


def _args(**over: object) -> argparse.Namespace:
    return argparse.Namespace(**{"service": None, "unit": None, "staff": None, "paper": False, "out": None, **over})


@pytest.mark.parametrize(
    ("over", "url", "words"),
    [
        ({"service": "20001"}, "http://gw.test/survey/service/20001", ["ترمیم راه", "نظرسنجی خدمت"]),
        ({"unit": "roads"}, "http://gw.test/survey/unit/roads", ["راه و ترابری", "نظرسنجی واحد"]),
        ({}, "http://gw.test/survey", ["خدمات این اداره"]),
    ],
    ids=["service", "unit", "site"],
)
async def test_the_poster_carries_a_qr_code_to_its_survey(make_config, artifacts, over, url, words):
    cfg = make_config(sms={"numbers": ["30001234"]})
    name = "-".join(str(v) for v in over.values()) or "site"
    pdf = artifacts / f"survey-poster-{name}.pdf"
    assert await cmd_poster(cfg, _args(out=str(pdf), **over)) == 0
    pages = _png(pdf)
    assert len(pages) == 1  # one A4 sheet
    assert _qr(pages[0]) == [url]
    text = _text(pdf)
    for w in [*words, "رفتار کارکنان", "انطباق", "نظر شما برای ما مهم است", "۳۰۰۰۱۲۳۴"]:
        assert plain(w) in text, w
    assert url.split("://")[1] in text  # the short link, for typing


async def test_the_paper_form_has_the_questions_and_boxes(make_config, artifacts):
    cfg = make_config()
    pdf = artifacts / "survey-paper-form-20001.pdf"
    assert await cmd_poster(cfg, _args(service="20001", paper=True, out=str(pdf))) == 0
    assert len(_png(pdf)) == 1
    text = _text(pdf)
    for w in ("فرم نظرسنجی مراجعان", "گردش کار", "رفتار کارکنان", "مقررات خواسته شد", "کد کارمند", "ترمیم راه"):
        assert plain(w) in text, w


async def test_an_unknown_service_is_exit_3(make_config, tmp_path):
    assert await cmd_poster(make_config(), _args(service="404", out=str(tmp_path / "x.pdf"))) == 3
    assert not (tmp_path / "x.pdf").exists()


async def test_the_desk_card_carries_the_staff_code(ctx, artifacts):
    from gateway.core.staff import add_staff
    from gateway.core.surveys_open import desk_code, parse_desk_code
    from gateway.core.text import to_persian_digits

    await add_staff(ctx.db, "زهرا احمدی", "roads")
    pdf = artifacts / "survey-desk-card.pdf"
    assert await cmd_poster(ctx.config, _args(staff="زهرا احمدی", out=str(pdf))) == 0
    [png] = _png(pdf)
    [url] = _qr(png)
    code = url.split("?staff=")[1]
    assert url == f"http://gw.test/survey/unit/roads?staff={code}" and parse_desk_code(code) is not None
    assert code == desk_code(parse_desk_code(code) or 0)
    text = _text(pdf)
    assert plain("زهرا احمدی") in text and to_persian_digits(code) in text and "راه و ترابری" in text
    assert await cmd_poster(ctx.config, _args(staff="nobody", out=str(artifacts / "x.pdf"))) == 3
