"""Open311 GeoReport v2 through HTTP on a running gateway: POST requests with any form
fields (valid key, so the fields reach intake) and GET lookups with any parameters."""

from __future__ import annotations

import os

from hypothesis import strategies as st

from fuzz.harness import AppEnv, target

API_KEY = "fuzz-open311-key"
os.environ.setdefault("GW_FUZZ_OPEN311_KEYS", API_KEY)

FIELDS = [
    "service_code",
    "description",
    "lat",
    "long",
    "address_string",
    "address_id",
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
    "media_url",
    "jurisdiction_id",
    "attribute[WHAT]",
    "service_request_id",
    "start_date",
    "end_date",
    "status",
]
VALUES = st.one_of(
    st.text(max_size=120),
    st.sampled_from(
        [
            "10011003113",
            "35.7",
            "-200",
            "nan",
            "1e999",
            "2026-01-01T00:00:00Z",
            "09121234567",
            "a@b.ir",
            "open,closed",
            "x" * 4001,
        ]
    ),
)
PARAMS = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=10)
PATHS = st.sampled_from(
    [
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        "/open311/v2/services.json",
        "/open311/v2/services/10011003113.xml",
        "/open311/v2/discovery.json",
        "/open311/v2/requests/1234567890.json",
    ]
)


@target(
    "open311.http",
    st.tuples(st.sampled_from(["GET", "POST"]), PATHS, PARAMS, st.booleans()),
    config={
        "services": [{"code": "10011003113", "title": "پاسخگویی به شکایات", "unit": "oversight", "sla_days": 10}],
        "open311": {"api_keys_env": "GW_FUZZ_OPEN311_KEYS"},
        "web": {"open311_burst": 1_000_000, "track_burst": 1_000_000},
    },
)
async def open311_http(case: tuple[str, str, dict[str, str], bool], env: AppEnv) -> None:
    """Never a 5xx (503 only if the database were down, which it is not here)."""
    method, path, params, keyed = case
    if keyed:
        params = {**params, "api_key": API_KEY}
    if method == "GET":
        r = await env.client.get(path, params=params)
    else:
        r = await env.client.post(path, data=params)
    await r.read()
    assert r.status < 500, r.status
