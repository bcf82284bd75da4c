"""The API's OpenAPI document says what the API really does (issue 22, "API
polish"): every answer typed, files with their media types, 503 documented,
readable operation ids; conditional GETs of statements, diffs and exports."""

from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from api import schemas
from api.caching import CACHE_CONTROL
from api.routes.payouts import CSV_MEDIA_TYPES
from projections import queues
from projections.payroll import XLSX_MEDIA_TYPE
from tests.api.conftest import Api
from tests.builders import run_process

_FILES = {
    "/payouts/runs/{run_id}/export.csv": list(CSV_MEDIA_TYPES),
    "/payouts/runs/{run_id}/export.xlsx": [XLSX_MEDIA_TYPE],
    "/metrics": ["text/plain; version=0.0.4; charset=utf-8"],
}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]


def test_the_openapi_document_validates(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    validate(doc)  # raises on an invalid OpenAPI 3.1 document
    assert len(_operations(doc)) >= 23


def test_operation_ids_are_the_handlers_names_and_unique(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    ids = {(m, p): op["operationId"] for m, p, op in _operations(doc)}
    assert len(set(ids.values())) == len(ids)
    assert ids["get", "/reps/{rep_id}/statements/{period}"] == "get_statement"
    assert ids["post", "/events"] == "post_events"
    assert ids["get", "/payouts/runs/{run_id}/export.csv"] == "get_export"
    assert all(i.isidentifier() and i == i.lower() for i in ids.values()), ids


def test_every_answer_is_typed_and_503_documented(api: Api) -> None:
    """Each success answer has a schema (a model, or the file's media type);
    every operation documents the store-unavailable 503 as ``{"error", "detail"}``."""
    doc = api.client.get("/openapi.json").json()
    untyped = []
    for method, path, op in _operations(doc):
        ok = next(op["responses"][s] for s in ("200", "201") if s in op["responses"])
        content = ok["content"]
        if path in _FILES:
            assert list(content) == _FILES[path], path
            continue
        schema = content["application/json"]["schema"]
        target = schema.get("items", schema)
        if "$ref" not in target:
            untyped.append(f"{method} {path}: {schema}")
        error = op["responses"]["503"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ErrorOut"}, path
    assert not untyped, untyped
    statement = doc["components"]["schemas"]["StatementOut"]["properties"]
    assert {"sha256", "paid", "plan", "correction_to", "later_events", "unreleased"} <= set(
        statement
    )


def _assert_described(model: type[BaseModel], body: Any) -> None:
    """The body validates against the model, and the model gives back every key
    of it (a key the model does not know and does not keep would be lost)."""
    if isinstance(body, list):
        for item in body:
            _assert_described(model, item)
        return
    parsed = model.model_validate(body)
    assert parsed.model_dump(mode="json", by_alias=True) == body


def test_the_models_describe_the_real_bodies(api: Api) -> None:
    """Golden-free: each typed read's real body, as the demo quarter gives it, is
    what its response model says (the paid statement's five keys included)."""
    finance = api.as_("finance")
    reads: list[tuple[str, type[BaseModel], str]] = [
        ("/reps/rep-li/statements/2026-Q3", schemas.StatementOut, "finance"),
        ("/reps/rep-li/statements/2026-Q3/diff?from=10&to=40", schemas.DiffOut, "finance"),
        ("/reps/rep-li/history", schemas.HistoryEntryOut, "compliance"),
        ("/reps/rep-li/disputes", schemas.DisputeRowOut, "finance"),
        ("/reps", queues.RepPage, "finance"),
        ("/periods/2026-Q3/summary", queues.SummaryPage, "finance"),
        ("/payouts/runs", queues.RunPage, "finance"),
        (f"/payouts/runs/{api.demo.run_id}", queues.RunDetail, "finance"),
        ("/approvals/pending", queues.PendingPage, "finance"),
        ("/disputes", queues.DisputePage, "finance"),
        ("/cases", queues.CasePage, "compliance"),
        ("/health", schemas.HealthOut, "finance"),
    ]
    for url, model, who in reads:
        answer = api.client.get(url, headers=api.as_(who))
        assert answer.status_code == 200, (url, answer.text)
        _assert_described(model, answer.json())
    statement = api.client.get(reads[0][0], headers=finance).json()
    assert statement["status"] == "paid"
    assert statement["paid"]["run_id"] == api.demo.run_id
    event_id = statement["lines"][0]["event_ids"][0]
    event = api.client.get(f"/events/{event_id}", headers=finance)
    _assert_described(schemas.EventOut, event.json())
    run = api.client.post("/payouts/2026-Q4/runs", headers=finance)
    assert run.status_code == 201, run.text
    _assert_described(schemas.RunCreatedOut, run.json())


def _sha_tag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()}"'


@pytest.mark.parametrize(
    "url",
    [
        "/reps/rep-li/statements/2026-Q3",
        "/reps/rep-li/statements/2026-Q3/diff?from=10&to=40",
        "/payouts/runs/{run_id}/export.csv",
        "/payouts/runs/{run_id}/export.xlsx",
    ],
)
def test_a_matching_if_none_match_gets_304_without_a_body(api: Api, url: str) -> None:
    url = url.replace("{run_id}", api.demo.run_id)
    finance = api.as_("finance")
    first = api.client.get(url, headers=finance)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    assert etag == _sha_tag(first.content)  # strong: the bytes' SHA-256
    assert first.headers["cache-control"] == CACHE_CONTROL
    again = api.client.get(url, headers={**finance, "If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == CACHE_CONTROL
    listed = api.client.get(url, headers={**finance, "If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304  # any tag of a list; weak comparison
    stale = api.client.get(url, headers={**finance, "If-None-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 200
    assert stale.content == first.content
    # a caller who may not see it learns nothing from a tag
    other = api.client.get(url, headers={**api.as_("other_rep"), "If-None-Match": etag})
    assert other.status_code in {403, 404}


@pytest.mark.parametrize(
    "url", ["/reps", "/reps/rep-li/history", "/cases", "/events/{event_id}", "/nowhere"]
)
def test_an_answer_to_a_token_is_kept_by_no_cache(api: Api, url: str) -> None:
    """A list, a history, an event or a refusal answered to a token's request
    is the caller's own: ``private, no-store`` (it had no Cache-Control, so a
    browser could keep a rep's history on a shared computer's disk); the
    statement keeps its own conditional-GET policy; a request without a token
    (``/health``) gets none."""
    url = url.replace("{event_id}", _an_event_id(api)) if "{" in url else url
    answer = api.client.get(url, headers=api.as_("finance"))
    assert answer.headers["cache-control"] == "private, no-store"
    statement = api.client.get("/reps/rep-li/statements/2026-Q3", headers=api.as_("finance"))
    assert statement.headers["cache-control"] == CACHE_CONTROL
    assert "cache-control" not in api.client.get("/health").headers


def _an_event_id(api: Api) -> str:
    return next(api.ledger.iter_log(limit=1)).event_id


def test_the_etag_follows_the_statement(api: Api) -> None:
    """An open statement that changes gets a new tag: the old one no longer
    matches, and the new body is answered."""
    url = "/reps/rep-li/statements/2026-Q4"
    finance = api.as_("finance")
    before = api.client.get(url, headers=finance)
    assert before.status_code == 200, before.text
    sale = {
        "type": "SaleRecorded",
        "sale_id": "S-ETAG-1",
        "rep_id": "rep-li",
        "amount": "1000.00",
        "currency": "CNY",
        "category": "software",
        "occurred_at": "2026-11-02T10:00:00+08:00",
    }
    stored = api.client.post("/events", json=sale, headers=api.as_("integration"))
    assert stored.status_code == 201, stored.text
    api.client.app.state.reports.catch_up()  # type: ignore[attr-defined]
    after = api.client.get(url, headers={**finance, "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]
    assert after.headers["etag"] == _sha_tag(after.content)


def test_exports_carry_their_media_types(api: Api) -> None:
    finance = api.as_("finance")
    run = api.demo.run_id
    csv = api.client.get(f"/payouts/runs/{run}/export.csv", headers=finance)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.startswith("rep_id") or "," in csv.text.splitlines()[0]
    xlsx = api.client.get(f"/payouts/runs/{run}/export.xlsx", headers=finance)
    assert xlsx.headers["content-type"] == XLSX_MEDIA_TYPE
    assert openpyxl.load_workbook(io.BytesIO(xlsx.content)).active is not None


_GENERATOR_CONFIG = """\
content_type_overrides:
  application/vnd.openxmlformats-officedocument.spreadsheetml.sheet: application/octet-stream
post_hooks: []
"""


def test_a_generated_client_type_checks(api: Api, tmp_path: Path) -> None:
    """Acceptance 3: openapi-python-client generates a client from the document
    (offline) and mypy --strict accepts it (about 5 s)."""
    spec = tmp_path / "openapi.json"
    spec.write_bytes(api.client.get("/openapi.json").content)
    config = tmp_path / "generator.yaml"
    config.write_text(_GENERATOR_CONFIG)
    out = tmp_path / "client"
    bin_dir = Path(sys.executable).parent
    generate = [str(bin_dir / "openapi-python-client"), "generate", f"--path={spec}"]
    generated = run_process(
        [*generate, f"--output-path={out}", f"--config={config}", "--meta=none"],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert "WARNING" not in generated.stdout, generated.stdout  # nothing left out
    operations = {p.stem for p in (out / "api").rglob("*.py") if p.stem != "__init__"}
    assert {"get_statement", "post_events", "get_export", "get_export_xlsx"} <= operations
    checked = run_process(  # run from tmp_path: the project's mypy settings stay out
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(out)],
        cwd=tmp_path,
        env=dict(os.environ),
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
