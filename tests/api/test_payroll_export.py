"""`GET /payouts/runs/{run_id}/export.xlsx`: the payroll workbook over HTTP."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from projections.payroll import STANDARD_COLUMNS, XLSX_MEDIA_TYPE
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
