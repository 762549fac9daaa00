"""A property-based run of the server's own OpenAPI spec (schemathesis): no request makes a 500,
and every response matches what the spec declares. Bounded: few examples per operation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks

from tests.server_harness import AUTH, copy_index, running_server

EXAMPLES_PER_OPERATION = 12
OPERATIONS = [
    ("GET", "/search"),
    ("POST", "/search"),
    ("POST", "/documents"),
    ("GET", "/documents/{doc_id}"),
    ("DELETE", "/documents/{doc_id}"),
]


@pytest.fixture(scope="module")
def openapi_server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("openapi")
    data_dir = copy_index(seeded_dir, root / "data")
    with running_server(data_dir, root / "server.log", max_request_bytes="262144") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def api_schema(openapi_server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{openapi_server}/openapi.json")


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_openapi_spec_holds_and_nothing_is_a_server_error(
    api_schema: schemathesis.BaseSchema, openapi_server: str, method: str, path: str
) -> None:
    """Valid and invalid requests alike, sent with the API key."""
    operation = api_schema[path][method]
    # Invalid requests must still never make a 500, but two kinds are accepted on purpose:
    # a list whose records break the record schema (each bad record is reported in the run
    # report and the rest lands), and a "wrong type" in a query string, which cannot tell a
    # number from text or one value from a list, so it arrives as a valid value.
    lenient = (method, path) in {("POST", "/documents"), ("GET", "/search")}
    excluded = [checks.negative_data_rejection] if lenient else []
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=timedelta(seconds=30),
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def holds(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=openapi_server, headers=AUTH, excluded_checks=excluded)

    holds()
