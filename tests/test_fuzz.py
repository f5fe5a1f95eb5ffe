"""schemathesis against a live gunicorn, from the description it serves at /api/openapi.json.

Every operation gets a fixed number of valid and of invalid requests, most of them aimed at a
journey and key that exist so that they reach past the 404s and 401s. Hypothesis derives the
seed from the test (``derandomize``): a run of this module alone repeats the same requests; in a
run of the whole suite, which imports every test module first, the requests differ (seen, not
explained). The run fails on any 5xx (the database stays up, so not even the documented 503 is
due) and on any answer whose status, content type, headers or body the description does not
declare.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from flask_journey import openapi

from .helpers import ORG

schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

#: Requests per operation and per generation mode (valid, invalid); FUZZ_EXAMPLES=1000 (say)
#: runs a longer campaign by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
POSITIVE = schemathesis.GenerationMode.POSITIVE
FUZZED = "fuzzed-journey"
MANAGED = "managed-journey"


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: it is the stricter of the two about what it stores."""
    return postgres_url


@dataclass
class Tenant:
    org: str
    journey: str
    public_key: str
    account_id: int
    tracker_id: int
    secret_key: str
    #: A key with the read scope only: the ingest and management endpoints refuse it (403).
    read_key: str


@dataclass
class Tally:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    #: The first answer of each status, to show what the requests reached.
    samples: dict[int, str] = field(default_factory=dict)


def aim(case: Any, tenant: Tenant, narrow: bool = False) -> None:
    """Name the tenant that exists wherever the case names one, and carry its secret key (the
    read-only one if ``narrow``)."""
    path, body = case.operation.path, case.body
    replacements = {
        "publicKey": tenant.public_key,
        "aid": str(tenant.account_id),
        "tid": str(tenant.tracker_id),
        "journeyKey": MANAGED,
    }
    for name in case.path_parameters or {}:
        case.path_parameters[name] = replacements[name]
    if "security" in case.operation.definition.raw:
        key = tenant.read_key if narrow else tenant.secret_key
        case.headers["Authorization"] = f"Bearer {key}"
    if not isinstance(body, dict):
        return
    if path == "/api/ingest":
        events = body.get("events")
        parts = [body.get("context"), *(events if isinstance(events, list) else [])]
        for part in parts:
            if isinstance(part, dict):
                part.update(orgKey=tenant.org, journeyKey=tenant.journey)
    elif path.startswith("/api/v1/events/"):
        body["site_id"] = tenant.public_key
    elif path == "/api/events":
        body["projectKey"] = tenant.public_key


def fuzz(operation: Any, mode: Any, base_url: str, tenant: Tenant, tally: Tally) -> None:
    session = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if tally.sent % 4 != 3:  # one case in four keeps the identifiers it was generated with
            aim(case, tenant, narrow=tally.sent % 8 == 5)
        response = case.call(base_url=base_url, session=session, timeout=30)
        tally.sent += 1
        tally.statuses[response.status_code] += 1
        tally.samples.setdefault(response.status_code, response.text[:200])
        request = f"{case.method} {case.formatted_path} {response.request.body!r:.300}"
        if response.status_code >= 500:
            tally.problems.append(f"{response.status_code} for {request}: {response.text:.300}")
            return
        try:
            case.validate_response(response, checks=CHECKS)
        except AssertionError as failure:
            tally.problems.append(f"{request} -> {response.status_code}: {failure}"[:1500])

    run()
    session.close()


@pytest.mark.timeout(900)
def test_fuzzed_requests_get_no_server_error_and_every_answer_is_as_described(
    app, cli, serve, database_url
):
    cli("create-org", ORG)
    cli("create-journey", ORG, FUZZED)
    cli("create-journey", ORG, MANAGED)
    shown = json.loads(cli("show", ORG, FUZZED))
    tenant = Tenant(
        ORG,
        FUZZED,
        shown["publicKey"],
        shown["accountId"],
        shown["trackerId"],
        cli("create-key", ORG).split()[-1],
        cli("create-key", ORG, "--scope", "read").split()[-1],
    )
    served = serve(
        {
            "JOURNEY_DATABASE_URL": database_url,
            "JOURNEY_RATELIMIT_DEFAULT": "1000000 per hour",
            "JOURNEY_RATELIMIT_UNKNOWN_ORIGIN": "1000000 per minute",
            "JOURNEY_IDENTITY_SECRET": "fuzz-identity-secret",
        },
        workers=2,
    )
    base_url = f"http://127.0.0.1:{served.port}"
    # Loaded as a document: from its URL, schemathesis would leave that operation out.
    # Valid requests without NUL characters, which every format refuses before its schema.
    config = schemathesis.Config.from_dict({"generation": {"allow-x00": False}})
    description = requests.get(base_url + openapi.URL, timeout=30).json()
    schema = schemathesis.openapi.from_dict(description, config=config)

    tallies: dict[str, Tally] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        # An operation that takes no input has no invalid request to make.
        takes_input = "requestBody" in raw or "parameters" in raw or "security" in raw
        for mode in list(schemathesis.GenerationMode) if takes_input else [POSITIVE]:
            tally = tallies.setdefault(f"{operation.label} {mode.value}", Tally())
            fuzz(operation, mode, base_url, tenant, tally)

    for label, tally in tallies.items():
        print(
            f"{label}: {tally.sent} sent, statuses {dict(sorted(tally.statuses.items()))}, "
            f"{len(tally.problems)} problems; first answers {tally.samples}"
        )
    problems = [f"{label}: {p}" for label, t in tallies.items() for p in t.problems]
    assert {label.rsplit(" ", 2)[1] for label in tallies} == {e.path for e in openapi.ENDPOINTS}
    assert not problems, f"{len(problems)} problems:\n" + "\n\n".join(problems[:40])
