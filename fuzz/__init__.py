"""Fuzzing harness: every parser that takes outside input, run for a chosen time.

``python -m fuzz --seconds 60`` runs every registered target for 60 s each (``--list``
names them; ``python -m fuzz --seconds 600 sms.`` runs those whose name starts with
``sms.``).  A target is a Hypothesis strategy and a check that feeds one generated input to
a parser; the check may raise only what the parser documents (``allowed``), anything else
is a crash: the shrunk input is printed and the run exits 1.

Adding a target: a module in ``fuzz/targets/`` (found by name, nothing to register
elsewhere) with::

    from fuzz.harness import target

    @target("mail.parse", st.binary(max_size=20_000), allowed=(MailTooComplex,))
    def mail_parse(raw: bytes) -> None:
        parse_mail(raw)

An ``async def`` check gets a second argument, an :class:`~fuzz.harness.AppEnv` (a running
gateway on a throwaway SQLite database with an aiohttp test client), for surfaces that
are best fuzzed through HTTP (Open311, citizen forms, webhooks): answering 5xx is a crash.
"""
