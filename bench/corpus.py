"""A reproducible corpus of Persian citizen mails for the import benchmarks.

The same ``--seed`` and ``--n`` give the same files.  The mix, by share of ``--n``:

- 40 % plain: text/plain in Persian, UTF-8, sent as 8bit, base64 or quoted-printable;
- 25 % html: multipart/alternative, the text and an RTL HTML version;
- 15 % attach: the text and one 50 KB binary file with a Persian name (RFC 2231);
- 20 % reply: "Re: ..." of an earlier mail of the corpus, with In-Reply-To and References.

Subjects and display names are Persian, so their headers are RFC 2047 encoded.

  .venv/bin/python bench/corpus.py --out DIR [--n 1000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

TOPICS = [
    ("چاله‌های خیابان", "خیابان اصلی محله ما پر از چاله شده و خودروها آسیب می‌بینند."),
    ("قطعی آب", "از دیروز آب ساختمان ما قطع است و اطلاع‌رسانی نشده است."),
    ("روشنایی معابر", "چراغ‌های کوچه ما چند هفته است خاموش است و شب‌ها امن نیست."),
    ("پیشنهاد فضای سبز", "پیشنهاد می‌کنم زمین خالی کنار مدرسه به پارک کوچک تبدیل شود."),
    ("رفتار کارمند", "در مراجعه به باجه شماره ۳ با من برخورد مناسبی نشد."),
    ("پیگیری پرونده", "درخواست من هنوز پاسخی نگرفته است؛ لطفاً وضعیت را اعلام کنید."),
    ("جمع‌آوری زباله", "زباله‌های کوچه سه روز است جمع‌آوری نشده است."),
    ("حمل و نقل عمومی", "اتوبوس خط ۱۲ صبح‌ها با تأخیر زیاد می‌رسد."),
]
NAMES = ["علی رضایی", "مریم احمدی", "حسین کریمی", "زهرا موسوی", "رضا حسینی", "فاطمه جعفری", "محمد نوری", "سارا کاظمی"]
OFFICE = Address("روابط عمومی", "feedback", "example.ir")


def body_text(rng: random.Random, topic: tuple[str, str], n: int) -> str:
    lines = ["با سلام و احترام،", topic[1]]
    lines += [f"بند {k + 1}: {rng.choice(TOPICS)[1]}" for k in range(rng.randint(1, 6))]
    lines += ["", f"شماره تماس: ۰۹۱۲{rng.randint(1000000, 9999999)}", f"نامه شماره {n}", "با تشکر"]
    return "\n".join(lines) + "\n"


def one_mail(rng: random.Random, n: int, kind: str, earlier: list[str], start: datetime) -> tuple[EmailMessage, str]:
    topic = rng.choice(TOPICS)
    name = rng.choice(NAMES)
    msg = EmailMessage()
    msg["From"] = Address(name, f"citizen{n}", "example.org")
    msg["To"] = OFFICE
    msg["Date"] = format_datetime(start + timedelta(minutes=7 * n))
    msg_id = f"<corpus-{n}@example.org>"
    msg["Message-ID"] = msg_id
    text = body_text(rng, topic, n)
    if kind == "reply" and earlier:
        parent = rng.choice(earlier)
        msg["Subject"] = f"Re: {topic[0]}"
        msg["In-Reply-To"] = parent
        msg["References"] = parent
        text += "\n> " + topic[1] + "\n"
    else:
        msg["Subject"] = f"{topic[0]} - نامه {n}"
    cte = rng.choice(["8bit", "base64", "quoted-printable"])
    msg.set_content(text, charset="utf-8", cte=cte)
    if kind == "html":
        paragraphs = "".join(f"<p>{line}</p>" for line in text.splitlines() if line)
        msg.add_alternative(f'<html dir="rtl" lang="fa"><body>{paragraphs}</body></html>', subtype="html")
    elif kind == "attach":
        data = rng.randbytes(50 * 1024)
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=f"مدرک {n}.bin")
    return msg, msg_id


def generate(out: Path, n: int, seed: int) -> int:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    kinds = ["plain"] * 40 + ["html"] * 25 + ["attach"] * 15 + ["reply"] * 20
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    earlier: list[str] = []
    for i in range(n):
        msg, msg_id = one_mail(rng, i, kinds[i % len(kinds)], earlier, start)
        earlier.append(msg_id)
        (out / f"{i:05d}.eml").write_bytes(msg.as_bytes(policy=SMTP))
    return n


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(f"wrote {generate(args.out, args.n, args.seed)} mails to {args.out}")
