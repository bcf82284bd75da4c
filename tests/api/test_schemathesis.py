"""schemathesis against the app's own OpenAPI document (bounded, a few hundred
cases): no 5xx, and a rejected request stores nothing.

Cases come from schemathesis's strategies, one operation at a time, driven by
hypothesis inside the test (its lazy pytest fixture loader does not support
this pytest version).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import Api


def _operations(api: Api) -> list[schemathesis.APIOperation]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    return operations


@pytest.mark.parametrize(("role", "examples"), [("finance", 20), ("rep", 8), ("integration", 5)])
def test_fuzz(api: Api, role: str, examples: int) -> None:
    for operation in _operations(api):

        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            before = api.head()
            response = case.call(headers=api.as_(role))
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if response.status_code >= 400:
                assert api.head() == before, f"{where}: a rejected request stored something"
                assert {"error", "detail"} <= set(response.json()), where

        check()
