"""The server's OpenAPI document tells the truth: schemathesis (its own command line, every check:
`--checks all`) against a real `riverbed serve`, with and without an API key, finds nothing; and
what a generated client reads off the document (names, security, types, version) is right."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from schemathesis.core.warnings import SchemathesisWarning

from tests.server_harness import API_KEY, AUTH, copy_index, running_server

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
EXAMPLES_PER_OPERATION = 25
OPERATION_IDS = {
    ("get", "/search"): "search",
    ("post", "/search"): "search_with_body",
    ("post", "/documents"): "add_documents",
    ("get", "/documents/{doc_id}"): "get_document",
    ("delete", "/documents/{doc_id}"): "delete_document",
    ("get", "/stats"): "stats",
    ("get", "/health"): "health",
    ("get", "/metrics"): "metrics",
}
WRITES = {("post", "/documents"), ("delete", "/documents/{doc_id}")}
# Every warning but one: a generated document id is rarely one the index holds, so GET and DELETE
# /documents/{doc_id} mostly answer 404, which schemathesis reports as "missing test data".
WARNINGS = ",".join(w.value for w in SchemathesisWarning if w.value != "missing_test_data")


@pytest.fixture(scope="module", params=["with a key", "without a key"])
def server(
    request: pytest.FixtureRequest, seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, bool]]:
    keyed = request.param == "with a key"
    root = tmp_path_factory.mktemp("openapi")
    data_dir = copy_index(seeded_dir, root / "data")
    key = API_KEY if keyed else None
    with running_server(
        data_dir, root / "server.log", api_key=key, max_request_bytes="262144"
    ) as base_url:
        yield base_url, keyed


@pytest.mark.timeout(400)
def test_schemathesis_with_every_check_finds_nothing(
    server: tuple[str, bool], tmp_path: Path
) -> None:
    """Every phase (examples, coverage, fuzzing), valid and invalid requests, every check: no
    500, responses as declared, valid data accepted and invalid data refused, 405 with the right
    Allow for other methods, writes refused without the key when the server has one."""
    base_url, keyed = server
    command = [SCHEMATHESIS, "run", f"{base_url}/openapi.json", "--checks", "all"]
    command += ["--max-examples", str(EXAMPLES_PER_OPERATION), "--seed", "18", "--no-color"]
    command += ["--generation-database", "none", "--workers", "1", "--warnings", WARNINGS]
    if keyed:
        command += ["--header", f"Authorization: Bearer {API_KEY}"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=360)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout, run.stdout[-3000:]


def test_the_document_names_operations_and_declares_security_only_with_a_key(
    server: tuple[str, bool],
) -> None:
    base_url, keyed = server
    document = httpx.get(f"{base_url}/openapi.json").json()
    assert document["info"]["version"] == version("riverbed")
    operations = {
        (method, path): operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }
    assert {key: op["operationId"] for key, op in operations.items()} == OPERATION_IDS
    schemes = document.get("components", {}).get("securitySchemes", {})
    for key, operation in operations.items():
        declared = bool(operation.get("security"))
        assert declared == (keyed and key in WRITES), key
        assert ("401" in operation["responses"]) == declared, key
        if operation.get("parameters") or operation.get("requestBody"):
            invalid = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert invalid == {"$ref": "#/components/schemas/Invalid"}, key
    assert bool(schemes) == keyed
    invalid_schema = document["components"]["schemas"]["Invalid"]
    assert "message" in invalid_schema["required"]


def test_stats_and_health_are_typed_and_match_what_the_server_says(
    server: tuple[str, bool],
) -> None:
    base_url, _ = server
    document = httpx.get(f"{base_url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    for path, model in (("/stats", "IndexStats"), ("/health", "Health")):
        ok = document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        assert ok["schema"] == {"$ref": f"#/components/schemas/{model}"}
        body = httpx.get(f"{base_url}{path}").json()
        assert set(body) == set(schemas[model]["properties"]), path
    stats = httpx.get(f"{base_url}/stats").json()
    assert stats["documents"] >= 2 and stats["passages"] >= 3


def test_options_and_405_list_every_method_of_the_path(server: tuple[str, bool]) -> None:
    base_url, _ = server
    for path, methods in (
        ("/search", {"GET", "POST"}),
        ("/documents/any/id", {"GET", "DELETE"}),
        ("/documents", {"POST"}),
    ):
        options = httpx.options(f"{base_url}{path}")
        assert options.status_code == 204
        assert set(options.headers["allow"].split(", ")) == methods | {"OPTIONS"}
        refused = httpx.request("PATCH", f"{base_url}{path}", headers=AUTH)
        assert refused.status_code == 405
        assert set(refused.headers["allow"].split(", ")) == methods | {"OPTIONS"}
