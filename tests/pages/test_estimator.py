"""The estimator on a rep's My pay page (SPEC §5.1): a plain form (no script),
the same `Reports.estimate` as the API, the rep's own only, nothing recorded."""

from __future__ import annotations

from typing import Any

import pytest

from api.pages.i18n import WORDS
from tests.pages.test_pages import Site, site  # noqa: F401 - the fixture

PAY = "/app/reps/rep-li/pay"


def _head(site: Site) -> int:  # noqa: F811 - the fixture's type
    head = site.ledger.head()
    return head.position if head else 0


def _estimate(site: Site, path: str = "/app/reps/rep-li/estimate", **form: str) -> Any:  # noqa: F811
    """Li, signed in as a rep, posts the estimator at ``path`` with ``form`` and
    (unless ``form`` gives another) the CSRF token of her My pay page."""
    site.sign_in("rep-li", "rep", "rep-li")
    return site.client.post(path, data={"csrf": site.csrf(PAY), **form})


class TestEstimator:
    def test_my_pay_has_the_form_and_it_answers(self, site: Site) -> None:  # noqa: F811
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get(PAY)
        assert 'action="/app/reps/rep-li/estimate"' in page.text
        csrf = site.csrf(PAY)
        before = _head(site)
        form = {"csrf": csrf, "amount": "50000", "category": "software", "date": "2026-11-20"}
        answer = site.client.post("/app/reps/rep-li/estimate", data=form)
        assert answer.status_code == 200, answer.text
        assert "4,000.00" in answer.text  # 50,000 at the software rate of 8 %
        assert "Nothing was recorded" in answer.text
        assert _head(site) == before

    def test_in_chinese(self, site: Site) -> None:  # noqa: F811
        answer = _estimate(
            site, "/app/reps/rep-li/estimate?lang=zh-CN", amount="1000", date="2026-11-20"
        )
        assert answer.status_code == 200, answer.text
        assert "这只是估算" in answer.text

    def test_another_reps_estimate_is_404(self, site: Site) -> None:  # noqa: F811
        answer = _estimate(site, "/app/reps/rep-chen/estimate", amount="1000")
        assert answer.status_code == 404

    def test_without_the_form_token_is_403(self, site: Site) -> None:  # noqa: F811
        answer = _estimate(site, csrf="0" * 64, amount="1000")
        assert answer.status_code == 403

    @pytest.mark.parametrize("amount", ["12.345", "abc", "-500", "1,0,00"])
    def test_a_bad_amount_says_which_field_and_keeps_the_form(
        self,
        site: Site,  # noqa: F811
        amount: str,
    ) -> None:
        """The estimator again with what was typed and what is wrong, field by
        field (it was an error page, the input gone, in an import's words)."""
        answer = _estimate(site, amount=amount, date="2026-11-20", category="software")
        assert answer.status_code == 200
        assert 'role="alert"' in answer.text
        assert "amount: " in answer.text
        assert "bad line" not in answer.text
        assert f'value="{amount}"' in answer.text
        assert 'value="software"' in answer.text
        assert 'value="2026-11-20"' in answer.text
        # in Chinese, the page says so in Chinese, the rule's reason beside it
        zh = _estimate(site, "/app/reps/rep-li/estimate?lang=zh-CN", amount=amount)
        assert WORDS["zh-CN"]["estimate_refused"] in zh.text
        assert '<span lang="en">amount: ' in zh.text

    def test_an_amount_grouped_in_thousands_is_read_as_the_pages_show_it(
        self,
        site: Site,  # noqa: F811
    ) -> None:
        grouped = _estimate(site, amount="50,000", category="software", date="2026-11-20")
        assert grouped.status_code == 200
        assert "4,000.00" in grouped.text  # as 50000: 8 % of it
