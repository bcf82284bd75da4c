"""Locales over HTTP (SPEC §4): Accept-Language picks en or zh-CN for
statements, diffs and histories; a header naming only other languages is 406."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from api.deps import negotiate_locale
from tests.api.conftest import Api


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        (None, "en"),
        ("", "en"),
        ("*", "en"),
        ("en", "en"),
        ("en-US,en;q=0.9", "en"),
        ("zh", "zh-CN"),
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("zh-Hans-CN", "zh-CN"),
        ("fr, zh;q=0.5", "zh-CN"),
        ("en;q=0.1, zh-CN;q=0.9", "zh-CN"),
        ("zh-CN;q=0, en", "en"),
        ("fr, *;q=0.1", "en"),
        ("de;q=1.0, zh-TW;q=0.9, en;q=0.2", "en"),
    ],
)
def test_accept_language_picks_the_locale(header: str | None, locale: str) -> None:
    assert negotiate_locale(header) == locale


@pytest.mark.parametrize("header", ["fr", "zh-TW", "zh-Hant", "de, fr;q=0.5", "en;q=0", "x;;;"])
def test_only_unsupported_languages_are_refused(header: str) -> None:
    with pytest.raises(HTTPException) as refused:
        negotiate_locale(header)
    assert refused.value.status_code == 406
    assert "en, zh-CN" in str(refused.value.detail)


class TestOverHttp:
    def test_a_statement_in_chinese(self, api: Api) -> None:
        path = "/reps/rep-li/statements/2026-Q3"
        zh = api.client.get(path, headers={**api.as_("finance"), "Accept-Language": "zh-CN"})
        en = api.client.get(path, headers={**api.as_("finance"), "Accept-Language": "en"})
        assert zh.status_code == en.status_code == 200
        zh_steps = [s["text"] for line in zh.json()["lines"] for s in line["explanation"]]
        en_steps = [s["text"] for line in en.json()["lines"] for s in line["explanation"]]
        assert any("佣金" in t or "销售" in t for t in zh_steps)
        assert not any("佣金" in t for t in en_steps)
        assert zh.json()["total"] == en.json()["total"]  # words change, never numbers

    @pytest.mark.parametrize(
        ("path", "reader"),
        [
            ("/reps/rep-li/statements/2026-Q3", "finance"),
            # finance reads no history: 403, whatever language it asks for
            ("/reps/rep-wang/history", "compliance"),
            ("/reps/rep-li/statements/2026-Q3/diff?from=1&to=2", "finance"),
        ],
    )
    def test_a_language_not_served_is_406(self, api: Api, path: str, reader: str) -> None:
        """`fr` was silently English."""
        response = api.client.get(
            path, headers={**api.as_(reader), "Accept-Language": "fr-FR, de;q=0.8"}
        )
        assert response.status_code == 406
        assert response.json()["error"] == "not_acceptable"
        assert "en, zh-CN" in response.json()["detail"]

    def test_a_history_in_chinese(self, api: Api) -> None:
        zh = api.client.get(
            "/reps/rep-wang/history", headers={**api.as_("compliance"), "Accept-Language": "zh"}
        )
        en = api.client.get("/reps/rep-wang/history", headers=api.as_("compliance"))
        assert zh.status_code == en.status_code == 200
        assert zh.json()
        assert all("text" in e for e in zh.json())
        assert any("案件" in e["text"] for e in zh.json())
        assert any(" case " in e["text"] for e in en.json())
        assert [{k: v for k, v in e.items() if k != "text"} for e in zh.json()] == [
            {k: v for k, v in e.items() if k != "text"} for e in en.json()
        ]

    def test_a_diff_in_chinese(self, api: Api) -> None:
        to = api.demo.adjustment_approval
        path = f"/reps/rep-li/statements/2026-Q3/diff?from={to - 1}&to={to}"
        zh = api.client.get(path, headers={**api.as_("finance"), "Accept-Language": "zh-Hans"})
        assert zh.status_code == 200, zh.text
        assert zh.json()["text"].startswith("差异")
        assert zh.json()["changes"]
        assert all("调整" in c["text"] for c in zh.json()["changes"])
