"""`GET /payouts/runs/{run_id}/export.xlsx`: the payroll workbook over HTTP; the
CSV's ``encoding``."""

from __future__ import annotations

import codecs
import io

import pytest
from openpyxl import load_workbook

from projections.payroll import CSV_ENCODINGS, STANDARD_COLUMNS, XLSX_MEDIA_TYPE
from tests.api.conftest import Api


class TestXlsxExport:
    def test_finance_gets_the_workbook(self, api: Api) -> None:
        """The xlsx media type, an attachment named after the run, the same bytes
        twice, and a workbook whose rows are the CSV export's."""
        run_id = api.demo.run_id
        path = f"/payouts/runs/{run_id}/export.xlsx"
        first = api.client.get(path, headers=api.as_("finance"))
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == XLSX_MEDIA_TYPE
        assert first.headers["content-disposition"] == f'attachment; filename="{run_id}.xlsx"'
        again = api.client.get(path, headers=api.as_("finance"))
        assert again.content == first.content
        rows = list(
            load_workbook(io.BytesIO(first.content)).worksheets[0].iter_rows(values_only=True)
        )
        csv = api.client.get(f"/payouts/runs/{run_id}/export.csv", headers=api.as_("finance"))
        assert rows[0] == STANDARD_COLUMNS
        assert len(rows) == len(csv.text.splitlines())

    def test_only_finance(self, api: Api) -> None:
        path = f"/payouts/runs/{api.demo.run_id}/export.xlsx"
        for role in ("rep", "manager", "compliance", "integration", "admin"):
            assert api.client.get(path, headers=api.as_(role)).status_code == 403
        assert api.client.get(path).status_code == 401

    def test_unknown_run_is_404(self, api: Api) -> None:
        response = api.client.get("/payouts/runs/run-nope/export.xlsx", headers=api.as_("finance"))
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


class TestCsvEncoding:
    """``?encoding=``, as the CLI's ``--encoding``: Excel shows a CSV without a
    byte-order mark in the system's code page, the reps' Chinese names garbled."""

    def test_the_same_text_in_the_encoding_asked_for(self, api: Api) -> None:
        """utf-8-sig is the mark, then the same bytes (charset utf-8); gb18030
        the same text in its charset; the default the bytes they were (a
        Chinese name in each: `tests/integration/test_payroll_export.py`)."""
        path = f"/payouts/runs/{api.demo.run_id}/export.csv"
        finance = api.as_("finance")
        plain = api.client.get(path, headers=finance)
        assert plain.headers["content-type"] == "text/csv; charset=utf-8"
        assert not plain.content.startswith(codecs.BOM_UTF8)
        assert api.client.get(path, params={"encoding": "utf-8"}, headers=finance).content == (
            plain.content
        )
        marked = api.client.get(path, params={"encoding": "utf-8-sig"}, headers=finance)
        assert marked.status_code == 200, marked.text
        assert marked.content == codecs.BOM_UTF8 + plain.content
        assert marked.headers["content-type"] == "text/csv; charset=utf-8"
        chinese = api.client.get(path, params={"encoding": "gb18030"}, headers=finance)
        assert chinese.headers["content-type"] == "text/csv; charset=gb18030"
        assert chinese.content.decode("gb18030") == plain.content.decode("utf-8")

    def test_each_encoding_is_tagged_apart(self, api: Api) -> None:
        """The ETag is of the bytes answered: a copy in one encoding is no copy
        in another (200, never a 304 for the other's tag)."""
        path = f"/payouts/runs/{api.demo.run_id}/export.csv"
        finance = api.as_("finance")
        plain = api.client.get(path, headers=finance)
        marked = api.client.get(path, params={"encoding": "utf-8-sig"}, headers=finance)
        assert plain.headers["etag"] != marked.headers["etag"]
        held = {**finance, "If-None-Match": plain.headers["etag"]}
        again = api.client.get(path, params={"encoding": "utf-8-sig"}, headers=held)
        assert again.status_code == 200
        assert again.content == marked.content
        held = {**finance, "If-None-Match": marked.headers["etag"]}
        same = api.client.get(path, params={"encoding": "utf-8-sig"}, headers=held)
        assert same.status_code == 304

    @pytest.mark.parametrize("encoding", ["latin-1", "UTF-8", "utf8", ""])
    def test_another_encoding_is_refused_naming_the_parameter(
        self, api: Api, encoding: str
    ) -> None:
        path = f"/payouts/runs/{api.demo.run_id}/export.csv"
        answer = api.client.get(path, params={"encoding": encoding}, headers=api.as_("finance"))
        assert answer.status_code == 422
        body = answer.json()
        assert body["error"] == "invalid"
        assert body["detail"].startswith("encoding: ")
        assert all(name in body["detail"] for name in ("'utf-8-sig'", "'gb18030'"))

    @pytest.mark.parametrize("encoding", CSV_ENCODINGS)
    def test_the_document_states_the_content_type_served(self, api: Api, encoding: str) -> None:
        """The OpenAPI document said every CSV was ``text/csv; charset=utf-8``,
        while ``?encoding=gb18030`` is served as ``charset=gb18030``: a client
        generated from it decoded GB18030 bytes as UTF-8. Now it lists each
        Content-Type served and which encoding serves it."""
        path = "/payouts/runs/{run_id}/export.csv"
        ok = api.client.get("/openapi.json").json()["paths"][path]["get"]["responses"]["200"]
        served = api.client.get(
            path.format(run_id=api.demo.run_id),
            params={"encoding": encoding},
            headers=api.as_("finance"),
        )
        assert served.status_code == 200, served.text
        media_type = served.headers["content-type"]
        assert media_type in ok["content"], (media_type, list(ok["content"]))
        assert f"{media_type} for encoding={encoding}" in ok["description"]
        assert codecs.lookup(media_type.partition("charset=")[2]).name in {
            codecs.lookup(encoding).name,
            "utf-8",  # utf-8-sig: UTF-8, its mark the body's first character
        }

    def test_the_document_lists_no_content_type_never_served(self, api: Api) -> None:
        path = "/payouts/runs/{run_id}/export.csv"
        ok = api.client.get("/openapi.json").json()["paths"][path]["get"]["responses"]["200"]
        served = {
            api.client.get(
                path.format(run_id=api.demo.run_id),
                params={"encoding": encoding},
                headers=api.as_("finance"),
            ).headers["content-type"]
            for encoding in CSV_ENCODINGS
        }
        assert set(ok["content"]) == served

    def test_a_workbook_takes_no_encoding(self, api: Api) -> None:
        """The xlsx route has no such parameter (a workbook names its own)."""
        doc = api.client.get("/openapi.json").json()
        xlsx = doc["paths"]["/payouts/runs/{run_id}/export.xlsx"]["get"]
        csv = doc["paths"]["/payouts/runs/{run_id}/export.csv"]["get"]
        assert "encoding" not in {p["name"] for p in xlsx.get("parameters", [])}
        [encoding] = [p for p in csv["parameters"] if p["name"] == "encoding"]
        assert encoding["schema"]["enum"] == ["utf-8", "utf-8-sig", "gb18030"]
