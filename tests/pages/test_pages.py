"""The web pages over HTTP (SPEC §5.1), on SQLite and PostgreSQL: one-time
sign-in, the session cookie, sign-out, CSRF, the role and rep scope of every
page (a rep gets 404 for another rep's pages, like the API), a dispute from a
statement line, and the pages' security headers.

The same pages in a real browser: `tests/pages/test_browser.py`."""

from __future__ import annotations

import codecs
import html as html_text
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from structlog.testing import capture_logs
from typer.testing import CliRunner

from api.app import create_app
from api.pages import views
from api.pages.i18n import WORDS, money
from api.pages.payouts import waiting_item
from api.pages.routes import Page, form_page
from api.pages.session import SigninCodes
from api.settings import Settings
from demo import DemoResult, run_demo
from ledger.application import Ledger
from ledger.ingestion.parse import parse_event
from ledger.writes import Input
from policies.explanation import Step
from policies.plan import load_plan
from policies.wording import render_step
from projections.queues import Viewer, WorkQueues
from projections.service import Reports
from service import UseCases
from tests.builders import PLAN_TOML, ROOT, enrol, jsonl, sale, stored_record
from tests.builders import line as event_line
from tests.integration.test_audit_chain import Raw
from tests.integration.test_bounds import pay_the_last_quarter

SECRET = "test-token-secret-0123456789abcdef"


@dataclass
class Site:
    client: TestClient
    ledger: Ledger
    codes: SigninCodes
    demo: DemoResult

    def sign_in(self, actor: str, role: str, rep_id: str | None = None) -> None:
        self.client.cookies.clear()
        code = self.codes.issue(actor=actor, role=role, rep_id=rep_id)
        assert self.client.get(f"/app/signin/{code}").status_code == 200
        answer = self.client.post("/app/signin", data={"code": code}, follow_redirects=False)
        assert answer.status_code == 303, answer.text

    def bearer(self) -> dict[str, str]:
        """The API's header for the signed-in page user's own session token."""
        return {"Authorization": "Bearer " + self.client.cookies["il_session"]}

    def csrf(self, path: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', self.client.get(path).text)
        assert found is not None
        return found.group(1)

    def disputes(self) -> list[dict[str, object]]:
        return [
            r.data for r in self.ledger.iter_log(after=0, stop=None) if r.type == "DisputeRaised"
        ]


@contextmanager
def _demo_site(
    db_url: str,
    today: date | None = None,
    fill: Callable[[Ledger], Any] = run_demo,
    *,
    secure_cookies: bool = False,
) -> Iterator[Site]:
    """The demo served (or what ``fill`` records), on ``today`` when given
    (else the UTC date)."""
    ledger = Ledger(db_url)
    demo = fill(ledger)
    settings = Settings(
        database_url=db_url,
        token_secret=SECRET,  # type: ignore[arg-type]
        secure_cookies=secure_cookies,
    )
    app = create_app(settings, ledger=ledger, today=None if today is None else lambda: today)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield Site(client, ledger, app.state.signin_codes, demo)
    if app.state.stopped_cleanly:  # else a thread still reads: leave it to the exit
        ledger.close()


@pytest.fixture
def site(db_url: str) -> Iterator[Site]:
    with _demo_site(db_url) as served:
        yield served


@pytest.fixture
def november_site(db_url: str) -> Iterator[Site]:
    """The demo on 20 November 2026: its inside team (paid by the month) has
    nothing recorded in October or November."""
    with _demo_site(db_url, date(2026, 11, 20)) as served:
        yield served


STATEMENT = "/app/reps/rep-li/statements/2026-Q3"
# The demo's reps by name, as the pages call them ("Li Wei (rep-li)").
DEMO_NAMES = {
    "rep-li": "Li Wei",
    "rep-chen": "Chen Jing",
    "rep-wang": "Wang Fang",
    "lead-he": "He Min",
    "rep-sun": "Sun Lei",
    "rep-xu": "Xu Yan",
}
EAST = ["rep-li", "rep-chen", "rep-wang"]  # mgr-zhao's team, paid by the quarter


def named(rep_id: str, name: str | None = None) -> str:
    """A rep as a page's HTML names them: ``name`` (the demo's by default) then
    the id in brackets."""
    shown = name or DEMO_NAMES[rep_id]
    return (
        f'<span class="rep" data-raw><span class="rep-name">{shown}</span> '
        f'<span class="rep-id">({rep_id})</span></span>'
    )


class TestSignIn:
    def test_a_link_signs_in_once_and_leaves_the_url(self, site: Site) -> None:
        """Opening the link shows who it signs in as and spends nothing; its
        button's post sets an HttpOnly, SameSite=Strict cookie and redirects to a
        URL without the code; the code a second time signs nobody in."""
        code = site.codes.issue(actor="rep-li", role="rep", rep_id="rep-li")
        for _ in range(2):  # a link scanner, then the owner: the GET spends nothing
            shown = site.client.get(f"/app/signin/{code}", follow_redirects=False)
            assert shown.status_code == 200
            assert "set-cookie" not in shown.headers
            assert "Sign in as rep-li (rep)" in shown.text
            assert 'action="/app/signin"' in shown.text
            assert f'name="code" value="{code}"' in shown.text
        first = site.client.post("/app/signin", data={"code": code}, follow_redirects=False)
        assert first.status_code == 303
        assert first.headers["location"] == "/app/"
        cookie = first.headers["set-cookie"].lower()
        assert "il_session=" in cookie
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert code not in first.headers["location"]
        assert site.client.get("/app/", follow_redirects=False).headers["location"] == (
            "/app/reps/rep-li/pay"
        )
        site.client.cookies.clear()
        again = site.client.post("/app/signin", data={"code": code}, follow_redirects=False)
        assert again.status_code == 410
        assert "set-cookie" not in again.headers
        assert site.client.get(f"/app/signin/{code}").status_code == 410

    def test_an_expired_or_unknown_code_fails(self, site: Site) -> None:
        """An expired code and a made-up one answer alike: 410, no cookie."""
        expired = site.codes.issue(actor="fin-amy", role="finance", minutes=-1)
        for code in (expired, "made-up-code", "x" * 500):
            for answer in (
                site.client.get(f"/app/signin/{code}", follow_redirects=False),
                site.client.post("/app/signin", data={"code": code}, follow_redirects=False),
            ):
                assert answer.status_code == 410
                assert "set-cookie" not in answer.headers

    @pytest.mark.parametrize(
        "headers",
        [
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
            {"Sec-Fetch-Site": "none"},
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
        ],
    )
    def test_another_site_cannot_sign_anyone_in(self, site: Site, headers: dict[str, str]) -> None:
        """Login CSRF: a page of another site posting a code of its own (an
        attacker's rep link) would swap a finance user's session for the
        attacker's. A post that a browser says came from elsewhere is refused,
        the code unspent, the session kept."""
        site.sign_in("fin-amy", "finance")
        theirs = site.codes.issue(actor="rep-li", role="rep", rep_id="rep-li")
        answer = site.client.post(
            "/app/signin", data={"code": theirs}, headers=headers, follow_redirects=False
        )
        assert answer.status_code == 403
        assert WORDS["en"]["error_cross_site"].replace("'", "&#39;") in answer.text
        assert "set-cookie" not in answer.headers
        assert site.client.get("/app/payouts").status_code == 200  # still fin-amy
        assert site.codes.peek(theirs) is not None

    @pytest.mark.parametrize(
        "headers",
        [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://127.0.0.1"}, {}],
    )
    def test_this_sites_page_signs_in(self, site: Site, headers: dict[str, str]) -> None:
        """From this site's page (or a client that says nothing of where it is:
        no browser another site drives), the post signs in."""
        code = site.codes.issue(actor="fin-amy", role="finance")
        answer = site.client.post(
            "/app/signin", data={"code": code}, headers=headers, follow_redirects=False
        )
        assert answer.status_code == 303

    def test_sign_out_revokes_the_session(self, site: Site) -> None:
        """After sign-out the old cookie opens nothing, even when replayed."""
        site.sign_in("rep-li", "rep", "rep-li")
        token = site.client.cookies["il_session"]
        csrf = site.csrf("/app/reps/rep-li/pay")
        out = site.client.post("/app/signout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert 'il_session=""' in out.headers["set-cookie"] or "max-age=0" in (
            out.headers["set-cookie"].lower()
        )
        site.client.cookies.set("il_session", token)
        assert site.client.get("/app/reps/rep-li/pay").status_code == 401

    @pytest.mark.parametrize("forced", [False, True], ids=["plain", "secure-cookies"])
    def test_behind_a_tls_proxy_every_cookie_is_secure(self, db_url: str, forced: bool) -> None:
        """With LEDGER_SECURE_COOKIES, a request that reached the server over plain
        http (from a TLS proxy it does not trust for X-Forwarded-Proto) still
        gets Secure cookies: the session's, a form's note, the language, and the
        sign-out's clearing. Without it, as the request came (http here)."""
        with _demo_site(db_url, secure_cookies=forced) as site:
            client = site.client
            code = site.codes.issue(actor="rep-li", role="rep", rep_id="rep-li")
            signed_in = client.post("/app/signin", data={"code": code}, follow_redirects=False)
            token = signed_in.cookies["il_session"]
            client.cookies.set("il_session", token)  # the jar keeps a Secure one for https
            switched = client.get("/app/reps/rep-li/pay?lang=en")
            form = {"csrf": site.csrf(STATEMENT), "line": "0", "message": "why", "confirm": "yes"}
            noted = client.post(STATEMENT + "/dispute", data=form, follow_redirects=False)
            out = client.post("/app/signout", data={"csrf": form["csrf"]}, follow_redirects=False)
            for answer in (signed_in, switched, noted, out):
                cookie = answer.headers["set-cookie"]
                assert ("; Secure" in cookie) is forced, cookie

    def test_signing_in_again_ends_the_session_it_replaces(self, site: Site) -> None:
        """A second sign-in in the same browser (another person's link on a
        shared computer) revokes the session whose cookie it replaces: a copy
        of the old cookie opens nothing."""
        site.sign_in("fin-amy", "finance")
        old = site.client.cookies["il_session"]
        code = site.codes.issue(actor="rep-li", role="rep", rep_id="rep-li")
        answer = site.client.post("/app/signin", data={"code": code}, follow_redirects=False)
        assert answer.status_code == 303
        assert site.client.get("/app/reps/rep-li/pay").status_code == 200  # the new one
        site.client.cookies.set("il_session", old)
        assert site.client.get("/app/payouts").status_code == 401
        assert (
            site.client.get("/reps", headers={"Authorization": f"Bearer {old}"}).status_code == 401
        )

    def test_sign_out_needs_the_form_token(self, site: Site) -> None:
        """A sign-out posted without the CSRF token is refused and signs nobody out."""
        site.sign_in("rep-li", "rep", "rep-li")
        assert site.client.post("/app/signout", data={}).status_code == 403
        assert site.client.get("/app/reps/rep-li/pay").status_code == 200

    def test_codes_follow_the_token_rules(self, site: Site) -> None:
        """An invalid actor, an unknown role or a rep link without its rep are refused."""
        with pytest.raises(ValueError, match="actor"):
            site.codes.issue(actor="al ice", role="rep", rep_id="rep-li")
        with pytest.raises(ValueError, match="role"):
            site.codes.issue(actor="alice", role="boss")
        with pytest.raises(ValueError, match="--rep"):
            site.codes.issue(actor="alice", role="rep")

    def test_cli_prints_a_link_that_works(self, site: Site, db_url: str) -> None:
        """`token create --link` prints BASE/app/signin/CODE, which signs in once."""
        from cli import app as cli_app

        result = CliRunner().invoke(
            cli_app,
            [
                "token",
                "create",
                "--actor",
                "rep-li",
                "--role",
                "rep",
                "--rep",
                "rep-li",
                "--link",
                "--base-url",
                "http://ledger.example:8000",
                "--db",
                db_url,
            ],
            env={"LEDGER_TOKEN_SECRET": SECRET},
        )
        assert result.exit_code == 0, result.output
        link = result.stdout.strip()
        assert link.startswith("http://ledger.example:8000/app/signin/")
        path = link.removeprefix("http://ledger.example:8000")
        assert site.client.get(path, follow_redirects=False).status_code == 200
        code = {"code": path.rsplit("/", 1)[1]}
        assert site.client.post("/app/signin", data=code, follow_redirects=False).status_code == (
            303
        )
        assert site.client.get(path, follow_redirects=False).status_code == 410


class TestScope:
    @pytest.mark.parametrize(
        "path",
        [
            "/app/reps/rep-chen/pay",
            "/app/reps/rep-chen/statements/2026-Q3",
            "/app/reps/rep-chen/statements/2026-Q4",
            "/app/reps/nobody/pay",
            "/app/reps/REP-CHEN/pay",
            "/app/reps/rep-chen%2F../pay",
        ],
    )
    def test_a_rep_gets_404_for_any_other_reps_page(self, site: Site, path: str) -> None:
        """BOLA: whatever the URL, another rep's page is a 404 with none of their data."""
        site.sign_in("rep-li", "rep", "rep-li")
        answer = site.client.get(path)
        assert answer.status_code == 404
        assert "1,800.00" not in answer.text  # rep-chen's Q3 payable

    def test_a_rep_cannot_dispute_for_another_rep(self, site: Site) -> None:
        """A dispute posted on another rep's statement is a 404 and records nothing."""
        site.sign_in("rep-li", "rep", "rep-li")
        csrf = site.csrf("/app/reps/rep-li/pay")
        before = len(site.disputes())
        answer = site.client.post(
            "/app/reps/rep-chen/statements/2026-Q3/dispute",
            data={"csrf": csrf, "line": "0", "message": "mine", "confirm": "yes"},
        )
        assert answer.status_code == 404
        assert len(site.disputes()) == before

    def test_signed_out_pages_ask_for_sign_in(self, site: Site) -> None:
        """Without a session every page is a 401 page, with no data."""
        for path in (STATEMENT, "/app/reps/rep-li/pay", "/app/overview"):
            answer = site.client.get(path)
            assert answer.status_code == 401
            assert "33,100.00" not in answer.text

    @pytest.mark.parametrize(
        ("actor", "role", "status"),
        [
            ("fin-amy", "finance", 200),
            ("cmp-head", "compliance", 200),
            ("it-admin", "admin", 403),
            ("mgr-zhao", "manager", 403),
        ],
    )
    def test_overview_is_for_finance_and_compliance(
        self, site: Site, actor: str, role: str, status: int
    ) -> None:
        """Overview sums every rep's attainment and tiers: finance and compliance;
        its payouts by team are pay, finance's only (SPEC §5)."""
        site.sign_in(actor, role)
        answer = site.client.get("/app/overview")
        assert answer.status_code == status
        if status == 200:
            assert ('id="payouts-h"' in answer.text) is (role == "finance")
            assert ("55,350.00" in answer.text) is (role == "finance")  # the Q3 run's payable

    def test_payouts_by_team_show_an_open_run_apart_from_paid(self, site: Site) -> None:
        """A run calculated for the inside team's September, not paid, and a
        sale recorded after it: the team's September reads what the run will
        pay under "in open runs" (its figures, not the sale's), apart from
        paid (the east team's paid Q3) and from what is in no run — the table
        summed everyone's payable of now as one, the run's and the paid alike."""
        reports: Reports = site.client.app.state.reports  # type: ignore[attr-defined]
        result = UseCases(site.ledger, reports).payout_run("2026-09", actor="fin-amy")
        [run] = [
            r.data
            for r in site.ledger.iter_log(after=0, stop=None)
            if r.type == "PayoutCalculated" and r.data["period"] == "2026-09"
        ]
        held = sum((Decimal(st["payable"]) for st in run["statements"]), Decimal(0))
        assert held > 0, result
        late = sale("S-LATE", "rep-sun", "100000.00", at="2026-09-29T10:00:00+08:00")
        site.ledger.import_lines(jsonl(late), actor="crm-sync")
        now = sum(
            (Decimal(reports.statement(r, "2026-09")["payable"]) for r in ("rep-sun", "rep-xu")),
            Decimal(0),
        )
        assert now != held
        by = {(p["team"], p["period"]): p for p in views.overview(reports, "2026-09").payouts}
        inside = by["inside", "2026-09"]
        assert (inside["paid"], inside["in_run"], inside["open"]) == (0, held, 0)
        assert inside["payable"] == held
        east = by["east", "2026-Q3"]
        assert east["paid"] == Decimal("55350.00")
        assert (east["in_run"], east["open"]) == (0, 0)
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/overview?period=2026-09").text
        section = page[page.index('id="payouts-h"') :]
        row = section[section.index(">2026-09<") :]
        row = row[: row.index("</tr>")]
        cells = re.findall(r'data-label="([^"]+)" class="num[^"]*">([^<]+)</td>', row)
        w = WORDS["en"]
        assert cells[1:] == [
            (w["payouts_paid"], "0.00 CNY"),
            (w["payouts_in_run"], f"{money(held)} CNY"),
            (w["payouts_open"], "0.00 CNY"),
            (w["payouts_all"], f"{money(held)} CNY"),
        ]

    def test_the_overview_opens_on_the_quarter_of_the_larger_team(self, site: Site) -> None:
        """The demo's 2026-Q3 (three reps) and 2026-09 (the inside team's two) end
        the same day: the default is the period with more reps measured."""
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/overview")
        assert page.status_code == 200
        assert "<h1>Overview <small>2026-Q3</small>" in page.text or (
            'value="2026-Q3" selected' in page.text
        ), page.text[:2000]

    def test_the_overview_checks_the_chain_a_bounded_stretch_at_a_time(
        self, site: Site, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The dashboard checks the chain from the last verified position, at most
        `DASHBOARD_CHAIN_POSITIONS` further a view (it checked every link on every
        view: 8.5 s of 9.7 at 280,000 events), says how far it is intact and how
        many newer links wait, and shows a break once a view reaches it."""
        ledger = site.ledger
        ledger.check_chain()
        ledger.import_lines(
            jsonl(*(sale(f"S-chk-{i}", "rep-li", "100.00") for i in range(9))), actor="crm"
        )
        head = ledger.head().position  # type: ignore[union-attr]
        monkeypatch.setattr(views, "DASHBOARD_CHAIN_POSITIONS", 4)
        site.sign_in("fin-amy", "finance")
        first = site.client.get("/app/overview").text
        assert f"intact to position {head - 5}<" in first
        assert "new links checked just now: 4" in first
        assert "newer links not checked yet: 5 " in first
        second = site.client.get("/app/overview").text
        assert f"intact to position {head - 1}<" in second
        assert "newer links not checked yet: 1 " in second
        raw = Raw(db_url)
        raw.set_state(head, raw.state(head).replace(b'"100.00"', b'"900.00"'))
        third = site.client.get("/app/overview").text
        assert f"broken at position {head}" in third
        assert "intact to position" not in third
        assert not ledger.check_chain().ok  # a payout step sees it too

    def test_a_rep_has_no_overview(self, site: Site) -> None:
        site.sign_in("rep-li", "rep", "rep-li")
        assert site.client.get("/app/overview").status_code == 403

    def test_a_manager_sees_their_team_only(self, site: Site) -> None:
        """The API's scope: mgr-zhao reads rep-li's statement, mgr-qian gets 404."""
        site.sign_in("mgr-zhao", "manager")
        assert site.client.get(STATEMENT).status_code == 200
        site.sign_in("mgr-qian", "manager")
        assert site.client.get(STATEMENT).status_code == 404


class TestMyPay:
    def test_a_manager_paid_overrides_has_their_own_pay(self, site: Site) -> None:
        """lead-he is paid overrides on the inside team's sales: My pay is in
        their navigation and opens, with their own statement; mgr-zhao, paid
        nothing here, has no My pay (before: a manager had none, and their own
        statement was 404)."""
        site.sign_in("lead-he", "manager")
        assert 'href="/app/reps/lead-he/pay"' in site.client.get("/app/team").text
        assert ">2026-07<" in site.client.get("/app/reps/lead-he/pay").text
        assert site.client.get("/app/reps/lead-he/statements/2026-07").status_code == 200
        site.sign_in("mgr-zhao", "manager")
        assert '/pay"' not in site.client.get("/app/team").text
        assert site.client.get("/app/reps/lead-he/pay").status_code == 404

    def test_a_manager_paid_under_another_spelling_of_their_actor_has_their_own_pay(
        self, site: Site
    ) -> None:
        """The rep ``Lead-Wu`` is the manager ``lead-wu`` paid (the same actor,
        `api.auth.is_self`): the API reads them their own statement, and the
        pages now agree — My pay in the navigation, leading to the rep as
        spelled, and opening (before: the pages looked the rep up by the
        actor's exact text, found none, and showed no My pay)."""
        wu = enrol(
            "Lead-Wu",
            name="Wu Tao",
            plan_id="inside-leads",
            team="inside",
            at="2026-10-01T09:00:00+08:00",
        )
        site.ledger.import_lines(jsonl(wu), actor="hr-sync")
        site.sign_in("LEAD-WU ", "manager")  # the token's actor: lead-wu
        api = site.client.get("/reps/Lead-Wu/statements/2026-10", headers=site.bearer())
        assert api.status_code == 200, api.text
        assert 'href="/app/reps/Lead-Wu/pay"' in site.client.get("/app/team").text
        assert ">2026-10<" in site.client.get("/app/reps/Lead-Wu/pay").text
        site.sign_in("mgr-zhao", "manager")
        assert '/pay"' not in site.client.get("/app/team").text
        assert (
            site.client.get("/reps/Lead-Wu/statements/2026-10", headers=site.bearer()).status_code
            == 404
        )

    def test_periods_with_payable_and_status(self, site: Site) -> None:
        """Q3 was paid and later corrected; Q4 is open and carries the correction."""
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get("/app/reps/rep-li/pay").text
        q3 = page[page.index(">2026-Q3<") :]
        assert WORDS["en"]["status_corrected"] in q3[: q3.index("</tr>")]
        assert money("33100.00") in q3[: q3.index("</tr>")]
        q4 = page[page.index(">2026-Q4<") :]
        assert WORDS["en"]["status_open"] in q4[: q4.index("</tr>")]

    def test_statement_lines_unfold_into_steps_and_events(self, site: Site) -> None:
        """Every line has a <details> with its steps and the events behind it,
        with who recorded them; the approved adjustment names its approver. A
        step's money reads as the page's tables show money (thousands grouped)."""
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get(STATEMENT).text
        statement = site.client.get(
            "/reps/rep-li/statements/2026-Q3",
            headers=site.bearer(),
        ).json()
        assert page.count("<details>") == len(statement["lines"])
        for line in statement["lines"]:
            assert money(line["amount"]) in page
            for step in line["explanation"]:
                again = Step(step["code"], step["values"], tuple(step["event_ids"]))
                assert render_step(again, "en", money).replace("'", "&#39;") in page
        assert (
            "Sale S-1001: 120,000.00 × share 1.0000 = 120,000.00 credited, × 0.0800 "
            "(category rate, category software) = 9,600.00"
        ) in page
        assert "crm-sync" in page  # who recorded the sales
        adjustment = page[page.index("AdjustmentRequested") :]
        row = adjustment[: adjustment.index("</tr>")]
        assert "fin-amy" in row
        # its business moment with the offset it was given, beside times in UTC
        assert re.search(r'<td[^>]* class="date">2026-\d\d-\d\d \d\d:\d\d \+08:00</td>', row)

    def test_a_statements_figures_name_their_currency(self, site: Site) -> None:
        """The payable tile said CNY; the total, the lines' amounts and paid and
        now were bare figures beside it. Each names the statement's currency."""
        site.sign_in("rep-li", "rep", "rep-li")
        for lang in ("en", "zh-CN"):
            page = site.client.get(f"{STATEMENT}?lang={lang}").text
            w = WORDS[lang]
            for head in ("amount", "paid_column", "now_column", "change_column"):
                shown = w["in_currency"].format(head=w[head], currency="CNY")
                assert f'<th scope="col" class="num">{shown}</th>' in page, (lang, head)
            total = page[page.index(f"<dt>{w['total']}</dt>") :]
            assert "33,100.00 <small>CNY</small></dd>" in total[: total.index("</div>")]

    def test_corrected_period_shows_paid_and_now(self, site: Site) -> None:
        """Paid 33,100.00, now 26,100.00: the correction booked in 2026-Q4."""
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get(STATEMENT).text
        compare = page[page.index(WORDS["en"]["paid_vs_now"]) :]
        for figure in ("33,100.00", "26,100.00", "−7,000.00", "16,600.00", "12,600.00"):
            assert figure in compare
        assert "2026-Q4" in compare
        assert "SaleCancelled" in compare

    def test_a_negative_total_says_where_it_goes(self, site: Site) -> None:
        """Q4's total is −7,000.00 (Q3's correction) and its payable 0.00: the
        statement said nothing of the difference; it says it is carried."""
        site.sign_in("rep-li", "rep", "rep-li")
        said = WORDS["en"]["negative_carried"].replace("'", "&#39;")
        assert said in site.client.get("/app/reps/rep-li/statements/2026-Q4").text
        assert said not in site.client.get(STATEMENT).text

    def test_tier_ladder_marks_the_tier_reached(self, site: Site) -> None:
        """Score 1.0600 reaches the band from 1.0 (coefficient 1.5)."""
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get(STATEMENT).text
        reached = page[page.index('class="reached"') :]
        assert "1.5" in reached[: reached.index("</tr>")]
        assert page.count('class="reached"') == 1

    def test_pending_items_are_listed(self, site: Site) -> None:
        """rep-wang's mid-quarter target change waits for approval."""
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/reps/rep-wang/statements/2026-Q3").text
        assert "T-WANG-Q3-B" in page

    def test_a_pending_item_of_a_paid_period_says_where_its_approval_goes(self, site: Site) -> None:
        """rep-wang's 2026-Q3 is paid: approving the target change now books a
        correction in a later period, which the pending section says (and his
        open 2026-Q4 does not)."""
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/reps/rep-wang/statements/2026-Q3").text
        pending = page[page.index('id="pending-h"') :]
        pending = pending[: pending.index("</section>")]
        assert "T-WANG-Q3-B" in pending
        assert WORDS["en"]["pending_paid"].replace("'", "&#39;") in pending
        q4 = site.client.get("/app/reps/rep-wang/statements/2026-Q4").text
        assert WORDS["en"]["pending_paid"][:20] not in q4

    def test_chinese_pages_use_chinese_words(self, site: Site) -> None:
        """?lang=zh-CN switches (and remembers) the language; the line kinds are
        the statement wording's."""
        site.sign_in("rep-li", "rep", "rep-li")
        answer = site.client.get(STATEMENT + "?lang=zh-CN")
        assert "il_lang=zh-CN" in answer.headers["set-cookie"]
        assert WORDS["zh-CN"]["paid_vs_now"] in answer.text
        assert "佣金" in answer.text
        assert WORDS["zh-CN"]["summary"] in site.client.get(STATEMENT).text
        site.client.cookies.delete("il_lang")
        accepted = site.client.get(STATEMENT, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert WORDS["zh-CN"]["summary"] in accepted.text

    def test_every_word_exists_in_both_languages(self) -> None:
        assert set(WORDS["en"]) == set(WORDS["zh-CN"])
        for key, text in WORDS["zh-CN"].items():
            # a word of its own is Chinese; a pattern of placeholders alone
            # ("{head}（{currency}）") holds no English to translate
            words = re.sub(r"\{\w+\}", "", text)
            assert re.search(r"[\u4e00-\u9fff]", text) or not re.search("[A-Za-z]", words), key


class TestRepNames:
    """A page calls a rep by name, then id — "Li Wei (rep-li)" — as the
    directory has it (their enrolment's name): the pages showed ids alone,
    where the tools finance knows show people's names."""

    @pytest.mark.parametrize(
        ("who", "shown"),
        [
            (("rep-li", "rep", "rep-li"), "Signed in as " + named("rep-li") + " · rep"),
            (("lead-he", "manager", None), "Signed in as " + named("lead-he") + " · manager"),
            (("mgr-zhao", "manager", None), "Signed in as mgr-zhao · manager"),
            (("fin-amy", "finance", None), "Signed in as fin-amy · finance"),
        ],
    )
    def test_the_header_names_who_is_signed_in(
        self, site: Site, who: tuple[str, str, str | None], shown: str
    ) -> None:
        """A rep, and a manager paid too (lead-he), by name and id as every page
        names reps; a caller who is no rep by their actor (before: everyone by
        their actor id alone, "rep-li")."""
        site.sign_in(*who)
        page = site.client.get("/app/reps/rep-wang/history" if who[1] != "rep" else STATEMENT).text
        assert f'<span class="who">{shown}</span>' in page

    @pytest.mark.parametrize(
        ("who", "path", "reps"),
        [
            (("rep-li", "rep", "rep-li"), "/app/reps/rep-li/pay", ["rep-li"]),
            (("mgr-zhao", "manager", None), STATEMENT, ["rep-li"]),
            (("cmp-head", "compliance", None), "/app/reps/rep-wang/history", ["rep-wang"]),
            (("mgr-zhao", "manager", None), "/app/team?period=2026-Q3", EAST),
            (("fin-amy", "finance", None), "/app/payouts?period=2026-Q3", EAST),
            (("cmp-head", "compliance", None), "/app/cases", ["rep-chen", "rep-wang"]),
        ],
    )
    def test_a_page_names_each_rep_it_shows(
        self, site: Site, who: tuple[str, str, str | None], path: str, reps: list[str]
    ) -> None:
        site.sign_in(*who)
        page = site.client.get(path).text
        for rep_id in reps:
            assert named(rep_id) in page, rep_id

    def test_titles_queues_cards_and_confirmations_name_the_rep(self, site: Site) -> None:
        """My pay's title and heading, finance's queue row of rep-wang's target,
        the dispute card of rep-li's, and what a decision's confirmation says."""
        site.sign_in("rep-li", "rep", "rep-li")
        pay = site.client.get("/app/reps/rep-li/pay").text
        assert "<title>Pay of Li Wei (rep-li) · " in pay
        assert f"<h1>Pay of {named('rep-li')}</h1>" in pay
        assert (
            "<title>Li Wei（rep-li） 的薪酬 · "
            in site.client.get("/app/reps/rep-li/pay?lang=zh-CN").text
        )  # full-width brackets in Chinese
        site.client.cookies.delete("il_lang")
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/payouts").text
        queue = page[page.index('id="queue-h"') : page.index('id="disputes-h"')]
        row = queue[queue.index(">T-WANG-Q3-B<") :]
        assert named("rep-wang") in row[: row.index("</tr>")]
        assert f"DSP-401 · {named('rep-li')} · " in page
        form = {"csrf": site.csrf("/app/payouts"), "action": "approve", "subject": "T-WANG-Q3-B"}
        confirm = site.client.post("/app/payouts/act", data=form).text
        assert f"of rep {named('rep-wang')}" in confirm

    def test_names_are_escaped_wrap_and_read_in_chinese(self, site: Site) -> None:
        """A name is user data: markup in it is shown, never run; a Chinese name
        takes full-width brackets on a Chinese page; a name of 330 letters shows
        its first 79 and an ellipsis (the id beside it says who it is)."""
        odd, cjk, long_name = '<script>alert("x")</script> & Zoë', "欧阳娜娜", "Maximiliana" * 30
        reps = {"rep-odd": odd, "rep-cjk": cjk, "rep-long": long_name}
        lines = [
            enrol(
                rep, name=name, at="2026-10-01T09:00:00+08:00", team="east", manager_id="mgr-zhao"
            )
            for rep, name in reps.items()
        ]
        site.ledger.import_lines(jsonl(*lines), actor="hr-sync")
        site.sign_in("mgr-zhao", "manager")
        team = site.client.get("/app/team?period=2026-Q4").text  # six reps: one read of names
        assert "<script>alert" not in team
        assert named("rep-odd", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Zoë") in team
        assert named("rep-long", long_name[:79] + "…") in team
        assert long_name not in team
        assert named("rep-li") in team
        zh = site.client.get("/app/team?period=2026-Q4&lang=zh-CN").text
        assert f'<span class="rep-name">{cjk}</span><span class="rep-id">（rep-cjk）</span>' in zh
        pay = site.client.get("/app/reps/rep-odd/pay?lang=en").text
        assert (
            "<title>Pay of &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Zoë (rep-odd)"
            in pay
        )

    @pytest.mark.parametrize(
        ("who", "paths"),
        [
            (("rep-li", "rep", "rep-li"), ["/app/reps/rep-li/pay", STATEMENT]),
            (("rep-li", "rep", "rep-li"), ["/app/reps/rep-chen/pay", "/app/reps/rep-wang/history"]),
            (("mgr-qian", "manager", None), ["/app/team", STATEMENT]),
        ],
    )
    def test_a_page_shows_no_name_of_a_rep_out_of_scope(
        self, site: Site, who: tuple[str, str, str | None], paths: list[str]
    ) -> None:
        """rep-li's own pages name rep-li only; another rep's page is a 404
        without their name; another manager's team page names none of east's."""
        site.sign_in(*who)
        for path in paths:
            page = site.client.get(path).text
            others = [n for rep, n in DEMO_NAMES.items() if rep != who[2]]
            assert not [name for name in others if name in page], path

    def test_the_directory_names_reps_read_once_for_a_list(self, site: Site) -> None:
        """`Reports.rep_names`: a few reps' rows one by one, more in one query of
        every name — the same answer; a rep with no directory row has no name
        (a page shows the id alone)."""
        from api.pages.i18n import RepNames

        reports = site.client.app.state.reports  # type: ignore[attr-defined]
        assert reports.rep_names(["rep-li", "nobody"]) == {"rep-li": "Li Wei"}
        assert reports.rep_names([*DEMO_NAMES, "nobody", "nobody-else"]) == DEMO_NAMES
        assert RepNames({}, "en")("nobody") == (
            '<span class="rep" data-raw><span class="rep-id">nobody</span></span>'
        )
        assert RepNames({}, "zh-CN").text("nobody") == "nobody"

    def test_names_are_never_logged(self, site: Site) -> None:
        """SPEC §7: logs name reps by id. The pages that name reps log their
        requests and audited reads with ids only."""
        with capture_logs() as logs:
            for who, path in (
                (("fin-amy", "finance"), "/app/payouts"),
                (("fin-amy", "finance"), STATEMENT),
                (("cmp-head", "compliance"), "/app/cases"),
                (("cmp-head", "compliance"), "/app/reps/rep-chen/history"),
                (("mgr-zhao", "manager"), "/app/team"),
            ):
                site.sign_in(*who)
                assert 'class="rep-name"' in site.client.get(path).text  # names shown
        assert [e["rep_id"] for e in logs if e["event"] == "audit.read"]
        text = json.dumps(logs, default=str)
        assert not [name for name in DEMO_NAMES.values() if name in text]


class TestDispute:
    def test_dispute_confirms_then_records_through_the_api_use_case(self, site: Site) -> None:
        """The first post only shows what will be recorded; the confirmation
        records one DisputeRaised by the rep, on the run that paid the period."""
        site.sign_in("rep-li", "rep", "rep-li")
        csrf = site.csrf(STATEMENT)
        before = len(site.disputes())
        form = {"csrf": csrf, "line": "1", "message": "the split of S-1002 is wrong"}
        confirm = site.client.post(STATEMENT + "/dispute", data=form)
        assert confirm.status_code == 200
        assert site.demo.run_id in confirm.text
        assert len(site.disputes()) == before
        done = site.client.post(
            STATEMENT + "/dispute", data={**form, "confirm": "yes"}, follow_redirects=False
        )
        assert done.status_code == 303
        raised = site.disputes()
        assert len(raised) == before + 1
        assert raised[-1]["rep_id"] == "rep-li"
        assert raised[-1]["run_id"] == site.demo.run_id
        assert "bonus" in str(raised[-1]["message"])
        assert "the split of S-1002 is wrong" in str(raised[-1]["message"])
        dispute_id = str(raised[-1]["dispute_id"])
        assert done.headers["location"] == STATEMENT
        note = WORDS["en"]["dispute_raised"].format(subject=dispute_id)
        assert note in site.client.get(STATEMENT).text  # said once, on the page it leads to
        assert note not in site.client.get(STATEMENT).text
        assert dispute_id in site.client.get("/app/reps/rep-li/pay").text

    def test_a_confirmation_confirmed_twice_records_one_dispute(self, site: Site) -> None:
        """Back to the confirmation and Confirm again (or a double click): the
        confirmation names its dispute, so the second answers as the first."""
        site.sign_in("rep-li", "rep", "rep-li")
        form = {"csrf": site.csrf(STATEMENT), "line": "1", "message": "twice?"}
        confirm = site.client.post(STATEMENT + "/dispute", data=form)
        named = re.search(r'name="dispute" value="(DSP-[0-9a-f]{12})"', confirm.text)
        assert named is not None
        before = len(site.disputes())
        yes = {**form, "dispute": named.group(1), "confirm": "yes"}
        answers = [
            site.client.post(STATEMENT + "/dispute", data=yes, follow_redirects=False)
            for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [303, 303]
        assert answers[0].headers["location"] == answers[1].headers["location"]
        assert len(site.disputes()) == before + 1

    def test_a_form_naming_another_reps_dispute_records_the_reps_own(self, site: Site) -> None:
        """rep-li's form edited to name rep-chen's dispute: it answered "raised"
        and stored nothing (the conflict taken for a second confirmation). Now
        rep-li's dispute is recorded under an id of its own."""
        chen = STATEMENT.replace("rep-li", "rep-chen")
        site.sign_in("rep-chen", "rep", "rep-chen")
        form = {"csrf": site.csrf(chen), "line": "0", "message": "mine", "confirm": "yes"}
        assert site.client.post(chen + "/dispute", data=form).status_code == 200
        theirs = site.disputes()[-1]
        assert theirs["rep_id"] == "rep-chen"
        before = site.disputes()
        site.sign_in("rep-li", "rep", "rep-li")
        form = {
            "csrf": site.csrf(STATEMENT),
            "line": "1",
            "message": "the split is wrong",
            "dispute": str(theirs["dispute_id"]),
            "confirm": "yes",
        }
        done = site.client.post(STATEMENT + "/dispute", data=form, follow_redirects=False)
        assert done.status_code == 303
        after = site.disputes()
        assert after[: len(before)] == before
        (own,) = after[len(before) :]
        assert own["rep_id"] == "rep-li"
        assert own["dispute_id"] != theirs["dispute_id"]
        shown = site.client.get(done.headers["location"]).text
        assert WORDS["en"]["dispute_raised"].format(subject=own["dispute_id"]) in shown

    def test_a_dispute_without_the_form_token_records_nothing(self, site: Site) -> None:
        site.sign_in("rep-li", "rep", "rep-li")
        before = len(site.disputes())
        answer = site.client.post(
            STATEMENT + "/dispute",
            data={"csrf": "0" * 64, "line": "0", "message": "x", "confirm": "yes"},
        )
        assert answer.status_code == 403
        assert len(site.disputes()) == before

    def test_an_empty_message_is_refused(self, site: Site) -> None:
        site.sign_in("rep-li", "rep", "rep-li")
        csrf = site.csrf(STATEMENT)
        answer = site.client.post(
            STATEMENT + "/dispute", data={"csrf": csrf, "line": "0", "message": " "}
        )
        assert answer.status_code == 422
        assert "message" in answer.text

    def test_an_open_period_offers_no_dispute(self, site: Site) -> None:
        """Only a paid period has a run to dispute: Q4 shows no form, and a post is 404."""
        site.sign_in("rep-li", "rep", "rep-li")
        q4 = "/app/reps/rep-li/statements/2026-Q4"
        page = site.client.get(q4).text
        assert 'class="dispute"' not in page
        csrf = site.csrf(q4)
        answer = site.client.post(
            q4 + "/dispute", data={"csrf": csrf, "line": "0", "message": "x", "confirm": "yes"}
        )
        assert answer.status_code == 404


class TestOddInput:
    """SPEC §7: no input gets a 500 — odd query parameters and form fields each
    get a clear page."""

    @pytest.mark.parametrize(
        ("actor", "role", "rep", "form_page", "posted"),
        [
            ("rep-li", "rep", "rep-li", STATEMENT, STATEMENT + "/dispute"),
            ("rep-li", "rep", "rep-li", STATEMENT, "/app/reps/rep-li/estimate"),
            ("rep-li", "rep", "rep-li", STATEMENT, "/app/signout"),
            ("fin-amy", "finance", None, "/app/payouts", "/app/payouts/act"),
            ("cmp-head", "compliance", None, "/app/cases", "/app/cases/act"),
        ],
    )
    @pytest.mark.parametrize("token", ["é", "\u00ff" * 64, "%FF"])
    def test_a_form_token_of_any_text_is_refused(
        self,
        *,
        site: Site,
        actor: str,
        role: str,
        rep: str | None,
        form_page: str,
        posted: str,
        token: str,
    ) -> None:
        """A non-ASCII form token was a 500 (hmac.compare_digest takes ASCII
        text only): it is a token that is not the session's, so a 403."""
        site.sign_in(actor, role, rep)
        assert site.client.get(form_page).status_code == 200
        answer = site.client.post(
            posted, data={"csrf": token, "action": "approve", "line": "0", "message": "m"}
        )
        assert answer.status_code == 403
        assert WORDS["en"]["error_csrf"] in answer.text

    @pytest.mark.parametrize("line", ["-1", "-3", "3", "99999999999999999999999", "x", ""])
    def test_a_dispute_names_a_line_of_the_statement(self, site: Site, line: str) -> None:
        """``line=-1`` was read from the end (Python's negative index): the last
        line was confirmed and disputed. Any line outside the statement is a 404."""
        site.sign_in("rep-li", "rep", "rep-li")
        csrf = site.csrf(STATEMENT)
        before = len(site.disputes())
        for confirm in ("", "yes"):
            answer = site.client.post(
                STATEMENT + "/dispute",
                data={"csrf": csrf, "line": line, "message": "m", "confirm": confirm},
            )
            assert answer.status_code == 404
        assert len(site.disputes()) == before

    @pytest.mark.parametrize(
        "value", ["NaN", "sNaN", "-Infinity", "1e999999999", "1e-999999999", "x", None]
    )
    def test_money_shows_what_is_no_amount_as_given(self, value: str | None) -> None:
        """The money filter: sNaN raised InvalidOperation, 1e999999999 spelled out
        a billion digits. What no ledger amount is shows as it was given."""
        assert money(value) == str(value)

    def test_money_still_groups_amounts(self) -> None:
        assert money("9887543.12") == "9,887,543.12"
        assert money("-0.5") == "−0.50"
        assert money("1.2345") == "1.2345"

    def test_money_cuts_a_repeating_fraction_as_the_words_do(self) -> None:
        """A prorated bonus (10000 × 45/92) is carried to 60 digits: shown to 10
        decimals and "…", as the statement's words show it."""
        exact = "4891.30434782608695652173913043478260869565217391304347826087"
        assert money(exact) == "4,891.3043478260…"
        assert money("-" + exact) == "−4,891.3043478260…"
        assert money("0.0000000001") == "0.0000000001"


class TestNotes:
    """What a form did is said once, on the page it leads to — from a signed
    one-shot cookie of the session, never from the URL, which anyone can write."""

    @pytest.mark.parametrize(
        "path",
        [
            "/app/payouts?done=x",
            "/app/payouts?done=pay:run-2099-Q1-FAKE",
            "/app/payouts?done=nope:x:y",
            "/app/cases?done=x",
            "/app/cases?done=approve:CASE-FAKE",
            STATEMENT + "?raised=Call+FAKE+to+claim+your+bonus",
        ],
    )
    def test_a_note_in_the_url_is_not_shown(self, site: Site, path: str) -> None:
        """``?done=x`` was a 500; ``?done=pay:RUN`` said "Run RUN paid." of a run
        nobody paid; ``?raised=`` put any text in the statement's banner."""
        cases = path.startswith("/app/cases")  # compliance's page; the others finance's
        site.sign_in(*(("cmp-head", "compliance") if cases else ("fin-amy", "finance")))
        answer = site.client.get(path)
        assert answer.status_code == 200
        main = answer.text[answer.text.index('<main id="main">') :]  # (the switch keeps ?done=)
        assert 'role="status"' not in main
        for fake in ("FAKE", "run-2099"):
            assert fake not in main

    def test_a_note_is_the_sessions_and_is_said_once(self, site: Site) -> None:
        """The note of fin-amy's approval is shown to her once; her note cookie
        shown by another session, or edited, says nothing."""
        site.sign_in("fin-amy", "finance")
        csrf = site.csrf("/app/payouts")
        done = site.client.post(
            "/app/payouts/act",
            data={"csrf": csrf, "action": "approve", "subject": "T-WANG-Q3-B", "confirm": "yes"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/app/payouts"
        flash = site.client.cookies["il_flash"]
        said = WORDS["en"]["done_approve"].format(subject="T-WANG-Q3-B")
        first = site.client.get("/app/payouts")
        assert said in first.text
        assert "il_flash" not in site.client.cookies
        assert said not in site.client.get("/app/payouts").text
        site.client.cookies.set("il_flash", flash)
        assert said not in site.client.get("/app/cases").text  # another page's: not said
        site.sign_in("fin-bob", "finance")
        site.client.cookies.set("il_flash", flash)
        assert said not in site.client.get("/app/payouts").text
        payload, _, mac = flash.rpartition(".")
        site.client.cookies.set("il_flash", payload[:-2] + "xx." + mac)
        assert said not in site.client.get("/app/payouts").text


class TestHeaders:
    def test_pages_have_a_strict_policy(self, site: Site) -> None:
        site.sign_in("rep-li", "rep", "rep-li")
        answer = site.client.get(STATEMENT)
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"

    def test_docs_and_assets_are_served_here(self, site: Site) -> None:
        """/docs loads Swagger UI from this server: no other origin is named."""
        docs = site.client.get("/docs")
        assert docs.status_code == 200
        for src in re.findall(r'(?:src|href)="([^"]+)"', docs.text):
            assert src.startswith("/app/static/"), src
            assert site.client.get(src).status_code == 200
        assert "script-src 'self';" in docs.headers["content-security-policy"]

    def test_no_documentation_page_loads_another_origin(self, site: Site) -> None:
        """/docs is the only documentation page: FastAPI's ReDoc page at /redoc
        loaded its script from a CDN and its fonts from Google, without the
        pages' policy (SPEC §5.1: no CDN)."""
        assert site.client.get("/redoc").status_code == 404

    def test_page_forms_are_not_api_routes(self, site: Site) -> None:
        """The pages stay out of the OpenAPI document (and its JSON-only body rule)."""
        paths = site.client.get("/openapi.json").json()["paths"]
        assert not [p for p in paths if p.startswith("/app/")]


def _adjustment(site: Site, adjustment_id: str, rep_id: str, amount: str, reason: str) -> None:
    """fin-amy requests an adjustment of ``rep_id``'s 2026-Q4."""
    line = event_line(
        "AdjustmentRequested",
        actor="fin-amy",
        at="2026-12-01T10:00:00+08:00",
        adjustment_id=adjustment_id,
        rep_id=rep_id,
        period="2026-Q4",
        amount=amount,
        reason=reason,
    )
    site.ledger.import_lines(jsonl(line), actor="fin-amy")


class TestWaitingAmounts:
    def test_a_waiting_amount_says_its_currency(self, site: Site) -> None:
        """An adjustment and a red-line case's money waiting for a decision read
        "1,250.50 CNY" in the queues and on the confirmation — the figure was
        bare, no money in particular, beside tables that all name theirs."""
        _adjustment(site, "ADJ-CUR", "rep-wang", "1250.50", "missed split")
        case = event_line(
            "ViolationRecorded",
            actor="cmp-sun",
            at="2026-11-02T10:00:00+08:00",
            case_id="CASE-CUR",
            rep_id="rep-wang",
            code="false-expense-claim",
            severity="red_line",
            description="taxi",
            amount="830.00",
        )
        site.ledger.import_lines(jsonl(case), actor="cmp-sun")
        site.sign_in("fin-bob", "finance")
        page = site.client.get("/app/payouts").text
        row = page[page.index(">ADJ-CUR<") :]
        assert ">1,250.50 CNY</td>" in row[: row.index("</tr>")]
        csrf = site.csrf("/app/payouts")
        confirm = site.client.post(
            "/app/payouts/act", data={"csrf": csrf, "action": "approve", "subject": "ADJ-CUR"}
        ).text
        assert ">1,250.50 CNY</td>" in confirm
        site.sign_in("cmp-head", "compliance")
        cases = site.client.get("/app/cases").text
        row = cases[cases.index(">CASE-CUR<") :]
        assert ">830.00 CNY</td>" in row[: row.index("</tr>")]

    def test_a_waiting_target_in_the_pages_words(self, site: Site) -> None:
        """rep-wang's pending sales target read "sales_amount target 120000: ..."
        — the API's English on the Chinese page too, the money bare; it reads
        in the page's language, the target as money with its currency, in the
        queue and on the confirmation."""
        site.sign_in("fin-bob", "finance")
        for lang in ("en", "zh-CN"):
            page = site.client.get(f"/app/payouts?lang={lang}").text
            row = page[page.index(">T-WANG-Q3-B<") :]
            row = row[: row.index("</tr>")]
            words = WORDS[lang]["about_target"].format(
                kpi="sales_amount", value="120,000.00 CNY", reason="long sick leave in August"
            )
            assert html_text.escape(words, quote=False) in row, row
        csrf = site.csrf("/app/payouts")
        confirm = site.client.post(
            "/app/payouts/act", data={"csrf": csrf, "action": "approve", "subject": "T-WANG-Q3-B"}
        ).text
        assert '<td class="num">120,000.00 CNY</td>' in confirm


class TestPayouts:
    def act(self, site: Site, **form: str) -> Any:
        csrf = site.csrf("/app/payouts")
        return site.client.post(
            "/app/payouts/act", data={"csrf": csrf, **form}, follow_redirects=False
        )

    def events(self, site: Site, type_: str) -> list[dict[str, object]]:
        return [r.data | {"_actor": r.actor} for r in site.ledger.iter_log() if r.type == type_]

    @pytest.mark.parametrize("lang", ["en", "zh-CN"])
    def test_a_waiting_run_is_said_in_the_pages_language(self, site: Site, lang: str) -> None:
        """A payout run waiting for approval, as the pages list a waiting
        subject (`waiting_item`), was "payout run of 3 rep(s), paying ..." in
        English on a Chinese page: it is in the page's words, its money as the
        pages show money."""
        site.sign_in("fin-amy", "finance")
        assert self.act(site, action="calculate", period="2026-Q4", confirm="yes").is_redirect
        run_id = str(self.events(site, "PayoutCalculated")[-1]["run_id"])
        reports: Reports = site.client.app.state.reports  # type: ignore[attr-defined]
        reports.fresh()
        rows = reports.projector.store.rows("pending_approvals")
        (row,) = [doc for _, _, doc in rows if doc["subject_id"] == run_id]
        request = Request({"type": "http", "app": site.client.app, "headers": []})
        item = waiting_item(Page(request, lang, None), row)
        statements = self.events(site, "PayoutCalculated")[-1]["statements"]
        assert isinstance(statements, list)
        payable = sum(Decimal(s["payable"]) for s in statements)
        said = WORDS[lang]["about_run"].format(
            count=len(statements), paying=f"{money(str(payable))} CNY"
        )
        assert item["about"] == said
        if lang == "zh-CN":
            assert "payout run" not in item["about"]

    def pay_q4(self, site: Site) -> None:
        """fin-amy calculates 2026-Q4, fin-bob approves it, fin-amy pays it."""
        site.sign_in("fin-amy", "finance")
        assert self.act(site, action="calculate", period="2026-Q4", confirm="yes").is_redirect
        run_id = str(self.events(site, "PayoutCalculated")[-1]["run_id"])
        site.sign_in("fin-bob", "finance")
        assert self.act(site, action="approve", subject=run_id, confirm="yes").status_code == 303
        site.sign_in("fin-amy", "finance")
        assert self.act(site, action="pay", subject=run_id, confirm="yes").status_code == 303

    def test_a_correction_paid_out_leaves_its_period_corrected(self, site: Site) -> None:
        """Q3's correction is booked in Q4; once Q4 is paid, Q3 still reads
        corrected, names the cancellation and where it went, and its paid and
        now columns add up to their totals (paid 33,100.00, now 26,100.00)."""
        self.pay_q4(site)
        site.sign_in("rep-li", "rep", "rep-li")
        pay = site.client.get("/app/reps/rep-li/pay").text
        q3 = pay[pay.index(">2026-Q3<") :]
        assert WORDS["en"]["status_corrected"] in q3[: q3.index("</tr>")]
        page = site.client.get(STATEMENT).text
        compare = page[page.index(WORDS["en"]["paid_vs_now"]) :]
        for figure in ("33,100.00", "26,100.00", "−7,000.00"):
            assert figure in compare
        assert "SaleCancelled" in compare
        assert "2026-Q4" in compare

    def test_a_paid_correction_periods_paid_and_now_add_up(self, site: Site) -> None:
        """Q4 (which holds Q3's -7,000 correction) paid, then changed by an
        approved adjustment: its columns' totals are the sums of its rows."""
        self.pay_q4(site)
        _adjustment(site, "ADJ-Q4-LATE", "rep-li", "1500.00", "late")
        site.sign_in("fin-bob", "finance")
        assert (
            self.act(site, action="approve", subject="ADJ-Q4-LATE", confirm="yes").status_code
            == 303
        )
        site.sign_in("rep-li", "rep", "rep-li")
        page = site.client.get("/app/reps/rep-li/statements/2026-Q4").text
        compare = page[page.index(WORDS["en"]["paid_vs_now"]) :]
        assert "−7,000.00" in compare
        assert "−5,500.00" in compare

    def test_an_approval_confirmation_shows_what_it_moves(self, site: Site) -> None:
        """An adjustment's amount, period and reason on its confirmation."""
        _adjustment(site, "ADJ-BIG-1", "rep-wang", "987654.32", "huge retro bonus")
        site.sign_in("fin-bob", "finance")
        confirm = self.act(site, action="approve", subject="ADJ-BIG-1")
        assert confirm.status_code == 200
        for shown in ("987,654.32", "2026-Q4", "huge retro bonus", "fin-amy"):
            assert shown in confirm.text

    def test_a_run_is_calculated_approved_and_paid_by_two_people(self, site: Site) -> None:
        """Each step confirms first (recording nothing), the maker cannot approve
        their own run (409, nothing recorded), a second person can, then it is paid."""
        site.sign_in("fin-amy", "finance")
        before = len(self.events(site, "PayoutCalculated"))
        confirm = self.act(site, action="calculate", period="2026-Q4")
        assert confirm.status_code == 200
        assert "2026-Q4" in confirm.text
        assert len(self.events(site, "PayoutCalculated")) == before
        done = self.act(site, action="calculate", period="2026-Q4", confirm="yes")
        assert done.status_code == 303
        runs = self.events(site, "PayoutCalculated")
        assert len(runs) == before + 1
        run_id = str(runs[-1]["run_id"])
        assert done.headers["location"] == "/app/payouts"
        assert WORDS["en"]["done_calculate"].format(subject=run_id) in (
            site.client.get("/app/payouts").text
        )
        own = self.act(site, action="approve", subject=run_id, confirm="yes")
        assert own.status_code == 409
        assert not [e for e in self.events(site, "ApprovalGranted") if e["subject_id"] == run_id]
        site.sign_in("fin-bob", "finance")
        assert self.act(site, action="approve", subject=run_id).status_code == 200
        assert self.act(site, action="approve", subject=run_id, confirm="yes").status_code == 303
        granted = [e for e in self.events(site, "ApprovalGranted") if e["subject_id"] == run_id]
        assert [e["_actor"] for e in granted] == ["fin-bob"]
        site.sign_in("fin-amy", "finance")
        assert self.act(site, action="pay", subject=run_id, confirm="yes").status_code == 303
        paid = [e for e in self.events(site, "PayoutPaid") if e["run_id"] == run_id]
        assert len(paid) == 1
        page = site.client.get("/app/payouts").text
        row = page[page.index(run_id) :]
        assert WORDS["en"]["status_paid"] in row[: row.index("</tr>")]

    def test_a_rejection_asks_why_on_its_confirmation_and_records_it(self, site: Site) -> None:
        """The confirmation of a rejection has a note field (the queue's button
        has none); confirming without one keeps the page, says why, records
        nothing; with one, the rejection is recorded with its note."""
        site.sign_in("fin-amy", "finance")
        confirm = self.act(site, action="reject", subject="T-WANG-Q3-B")
        assert confirm.status_code == 200
        assert 'name="note"' in confirm.text
        assert WORDS["en"]["reject_note"] in confirm.text
        empty = self.act(site, action="reject", subject="T-WANG-Q3-B", confirm="yes", note=" ")
        assert empty.status_code == 200  # the confirmation again, saying what is missing
        assert WORDS["en"]["reject_note_missing"] in empty.text
        assert 'name="note"' in empty.text  # the same page, to say why
        assert not [
            e for e in self.events(site, "ApprovalRejected") if e["subject_id"] == "T-WANG-Q3-B"
        ]
        done = self.act(
            site, action="reject", subject="T-WANG-Q3-B", confirm="yes", note="quota too low"
        )
        assert done.status_code == 303
        rejected = [
            e for e in self.events(site, "ApprovalRejected") if e["subject_id"] == "T-WANG-Q3-B"
        ]
        assert [(e["_actor"], e.get("note")) for e in rejected] == [("fin-amy", "quota too low")]

    def test_the_language_switch_of_a_form_answer_leads_to_a_page(self, site: Site) -> None:
        """A confirmation answers a POST: its switch linked the form's address
        (GET: 405, the decision lost); it leads to the page the form is on."""
        site.sign_in("fin-amy", "finance")
        csrf = site.csrf("/app/payouts")
        confirm = site.client.post(
            "/app/payouts/act", data={"csrf": csrf, "action": "calculate", "period": "2026-Q4"}
        )
        assert confirm.status_code == 200
        assert 'href="/app/payouts?lang=zh-CN"' in confirm.text
        assert "/app/payouts/act?lang" not in confirm.text
        assert site.client.get("/app/payouts?lang=zh-CN").status_code == 200

    @pytest.mark.parametrize(
        ("posted", "page"),
        [
            ("/app/payouts/act", "/app/payouts"),
            ("/app/cases/act", "/app/cases"),
            ("/app/reps/rep-li/estimate", "/app/reps/rep-li/pay"),
            ("/app/reps/rep-li/statements/2026-Q3/dispute", "/app/reps/rep-li/statements/2026-Q3"),
            ("/app/signout", "/app"),
        ],
    )
    def test_every_form_has_a_page_to_switch_to(self, site: Site, posted: str, page: str) -> None:
        assert form_page(posted) == page
        site.sign_in(*(("cmp-head", "compliance") if "cases" in page else ("fin-amy", "finance")))
        assert site.client.get(page).status_code == 200  # a page, not a form's address

    def test_an_upheld_dispute_without_an_amount_keeps_its_card(self, site: Site) -> None:
        """Upheld with no amount: its confirmation promised "an adjustment of 0.00"
        and the confirmed resolution then failed, the note lost. The card comes
        back as filled in, saying what is missing; nothing is recorded."""
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": "upheld", "note": "70/30"}
        for amount in ("", "0", "0.00"):
            answer = self.act(site, **form, amount=amount)
            assert answer.status_code == 200
            card = answer.text[answer.text.index("DSP-401 ·") :]
            card = card[: card.index("</article>")]
            assert WORDS["en"]["upheld_needs_amount"] in card
            assert 'value="upheld" required checked' in card
            assert ">70/30</textarea>" in card
        assert not [e for e in self.events(site, "DisputeResolved") if e["dispute_id"] == "DSP-401"]

    def test_what_you_recorded_under_another_spelling_offers_no_decision(self, site: Site) -> None:
        """An adjustment stored by ``Fin-Amy`` (as a version before actors were
        normalised stored it) is fin-amy's: the page offers her no decision on
        it, as the ledger would refuse it (`same_actor`; before: the page
        compared the texts and offered the buttons); fin-bob gets them."""
        item, errors = parse_event(
            event_line(
                "AdjustmentRequested",
                at="2026-11-02T10:00:00+08:00",
                actor="x",
                adjustment_id="ADJ-LEGACY",
                rep_id="rep-li",
                period="2026-Q4",
                amount="-80.00",
                reason="stored by an older version",
            )
        )
        assert item is not None, errors
        [result] = site.ledger.record_inputs([[Input.of(item, "x")._replace(actor="Fin-Amy")]])
        assert not isinstance(result, Exception)
        approve = f'aria-label="{WORDS["en"]["action_approve"]} ADJ-LEGACY"'
        site.sign_in("fin-amy", "finance")
        assert approve not in site.client.get("/app/payouts").text
        site.sign_in("fin-bob", "finance")
        assert approve in site.client.get("/app/payouts").text

    def test_what_you_recorded_offers_no_decision(self, site: Site) -> None:
        """Maker-checker on the page too: fin-amy's own run and the adjustment her
        upheld dispute booked carry no approve button for her (it was offered,
        and failed); fin-bob gets the buttons."""
        site.sign_in("fin-amy", "finance")
        assert (
            self.act(site, action="calculate", period="2026-Q4", confirm="yes").status_code == 303
        )
        run_id = str(self.events(site, "PayoutCalculated")[-1]["run_id"])
        resolved = {"action": "resolve", "subject": "DSP-401", "outcome": "upheld"}
        self.act(site, **resolved, amount="500.00", note="70/30", confirm="yes")
        page = site.client.get("/app/payouts").text
        w = WORDS["en"]
        for subject in (run_id, "ADJ-DSP-401"):
            assert f'aria-label="{w["action_approve"]} {subject}"' not in page
        assert page.count(w["not_yours_to_decide"]) >= 2
        site.sign_in("fin-bob", "finance")
        page = site.client.get("/app/payouts").text
        for subject in (run_id, "ADJ-DSP-401"):
            assert f'aria-label="{w["action_approve"]} {subject}"' in page

    @pytest.mark.parametrize("period", ["2026-Q3", "2026-09", None])
    def test_the_period_summary_is_the_apis(self, site: Site, period: str | None) -> None:
        """SPEC §5.1's period summary on Payouts: each rep's total, payable,
        attainment, tier and status, with team subtotals, as `GET
        /periods/{period}/summary` reads it; by default the period the other
        pages open on (the overview's). A paid period changed since reads
        "corrected", as on the rep's My pay and the manager's Team (rep-li's
        Q3: finance read "paid" where they read "corrected")."""
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/payouts" + (f"?period={period}" if period else ""))
        assert page.status_code == 200
        html = page.text
        overview = site.client.get("/app/overview").text
        shown = period or re.search(r'<option value="([^"]+)" selected>', overview).group(1)  # type: ignore[union-attr]
        assert f'<option value="{shown}" selected>' in html
        section = html[html.index('id="psum-h"') : html.index('id="runs-h"')]
        api = site.client.get(f"/periods/{shown}/summary?limit=500", headers=site.bearer())
        assert api.json()["items"]
        for item in api.json()["items"]:
            row = section[section.index(named(item["rep_id"])) :]
            row = row[: row.index("</tr>")]
            for figure in (money(item["total"]), money(item["payable"])):
                assert figure in row
            for ratio_ in (item["attainment"], item["tier_coefficient"]):
                assert (ratio_ or "—") in row
            status = item["status"]
            statement = site.client.get(
                f"/reps/{item['rep_id']}/statements/{shown}", headers=site.bearer()
            ).json()
            if status == "paid" and statement["correction_to"]:
                status = "corrected"
            assert f">{WORDS['en']['status_' + status]}</span>" in row
        if shown == "2026-Q3":
            assert WORDS["en"]["status_corrected"] in section  # rep-li's, as on My pay
        api = api.json()
        subtotals = section[section.index(WORDS["en"]["team_subtotals"]) :]
        for team in api["teams"]:
            assert money(team["payable"]) in subtotals
            assert f'class="num">{team["reps"]}</td>' in subtotals

    @pytest.mark.parametrize(
        "query",
        ["period=2026-Q9", "period=x", "offset=x", "offset=-1", "offset=99999999999999999999"],
    )
    def test_an_odd_summary_query_shows_a_page(self, site: Site, query: str) -> None:
        site.sign_in("fin-amy", "finance")
        answer = site.client.get(f"/app/payouts?{query}")
        assert answer.status_code == 200
        assert WORDS["en"]["period_summary"] in answer.text

    def test_the_export_is_the_apis(self, site: Site) -> None:
        site.sign_in("fin-amy", "finance")
        page = site.client.get(f"/app/payouts/runs/{site.demo.run_id}/export.csv")
        api = site.client.get(
            f"/payouts/runs/{site.demo.run_id}/export.csv",
            headers=site.bearer(),
        )
        assert page.status_code == 200
        assert page.text == api.text
        assert page.headers["content-type"].startswith("text/csv")

    def test_a_link_exports_the_csv_for_excel(self, site: Site) -> None:
        """Beside the plain file, the file for Excel (its "CSV UTF-8": a
        byte-order mark, so Excel shows Chinese names), as the API's
        ``?encoding=utf-8-sig``; another encoding is refused, naming it."""
        site.sign_in("fin-amy", "finance")
        run_id = site.demo.run_id
        html = site.client.get("/app/payouts").text
        link = f"/app/payouts/runs/{run_id}/export.csv?encoding=utf-8-sig"
        assert f'<a href="{link}" aria-label="{WORDS["en"]["export_excel"]} {run_id}">' in html
        page = site.client.get(link)
        api = site.client.get(
            f"/payouts/runs/{run_id}/export.csv",
            params={"encoding": "utf-8-sig"},
            headers=site.bearer(),
        )
        assert page.status_code == 200
        assert page.content == api.content
        assert page.content.startswith(codecs.BOM_UTF8)
        assert page.headers["content-type"] == "text/csv; charset=utf-8"
        assert page.headers["content-disposition"] == f'attachment; filename="{run_id}.csv"'
        refused = site.client.get(f"/app/payouts/runs/{run_id}/export.csv?encoding=latin-1")
        assert refused.status_code == 422
        assert "encoding: &#39;latin-1&#39; is none of utf-8, utf-8-sig, gb18030" in refused.text

    def test_an_approval_through_the_queue(self, site: Site) -> None:
        """rep-wang's pending target change is in finance's queue; approving it
        records the decision and moves it out of the queue."""
        site.sign_in("fin-amy", "finance")
        assert "T-WANG-Q3-B" in site.client.get("/app/payouts").text
        assert (
            self.act(site, action="approve", subject="T-WANG-Q3-B", confirm="yes").status_code
            == 303
        )
        granted = [
            e for e in self.events(site, "ApprovalGranted") if e["subject_id"] == "T-WANG-Q3-B"
        ]
        assert [e["_actor"] for e in granted] == ["fin-amy"]
        queue = site.client.get("/app/payouts").text
        assert "T-WANG-Q3-B" not in queue[queue.index('id="queue-h"') :]

    def test_an_upheld_dispute_books_an_adjustment_to_approve(self, site: Site) -> None:
        """Finance upholds DSP-401 with 500.00: the adjustment waits in the queue
        for a second finance person."""
        site.sign_in("fin-amy", "finance")
        form = {
            "action": "resolve",
            "subject": "DSP-401",
            "outcome": "upheld",
            "amount": "500.00",
            "note": "split was 70/30",
        }
        confirm = self.act(site, **form)
        assert "500.00" in confirm.text
        assert self.act(site, **form, confirm="yes").status_code == 303
        resolved = [e for e in self.events(site, "DisputeResolved") if e["dispute_id"] == "DSP-401"]
        assert resolved[0]["outcome"] == "upheld"
        adjustment = [
            e
            for e in self.events(site, "AdjustmentRequested")
            if e["adjustment_id"] == "ADJ-DSP-401"
        ]
        assert adjustment[0]["amount"] == "500.00"
        site.sign_in("fin-bob", "finance")
        assert "ADJ-DSP-401" in site.client.get("/app/payouts").text

    def card(self, answer: Any) -> str:
        """The DSP-401 card of a payouts page answered to a resolution."""
        assert answer.status_code == 200, answer.text[:500]
        card = str(answer.text[answer.text.index("DSP-401 ·") :])
        return card[: card.index("</article>")]

    @pytest.mark.parametrize(
        "amount",
        [
            "lots",
            "NaN",
            "sNaN",
            "Infinity",
            "1e999999999",
            "1e3",
            "1,0,0,0",
            "10000000000000",
            "1000000000000",
            "12.345",
        ],
    )
    @pytest.mark.parametrize("confirm", ["", "yes"])
    def test_a_bad_amount_keeps_the_card_naming_the_field(
        self, site: Site, amount: str, confirm: str
    ) -> None:
        """An amount the ledger would refuse (or that crashed the confirmation:
        NaN, sNaN, 1e999999999 were a 500) is said on the dispute's card, the
        amount field marked and the note kept — at the confirmation step, never
        after a confirmation that promised the adjustment."""
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": "upheld", "note": "70/30"}
        card = self.card(self.act(site, **form, amount=amount, confirm=confirm))
        assert WORDS["en"]["amount_invalid"].replace(",", "&#44;") in card.replace(",", "&#44;")
        assert 'name="amount"' in card
        amount_input = card[card.index('name="amount"') :]
        assert 'aria-invalid="true"' in amount_input[: amount_input.index(">")]
        assert ">70/30</textarea>" in card
        assert not [e for e in self.events(site, "DisputeResolved") if e["dispute_id"] == "DSP-401"]

    def test_a_grouped_amount_is_read_as_the_pages_print_it(self, site: Site) -> None:
        """ "1,000.00" (money as the pages show it): the confirmation promised an
        adjustment of 1,000.00 that the ledger then refused; now it is read as
        1000.00, as the estimator reads it, and booked."""
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": "upheld", "note": "70/30"}
        confirm = self.act(site, **form, amount="1,000.00")
        assert confirm.status_code == 200
        assert "1,000.00" in confirm.text
        assert 'name="amount" value="1000.00"' in confirm.text
        assert self.act(site, **form, amount="1,000.00", confirm="yes").status_code == 303
        (adjustment,) = [
            e
            for e in self.events(site, "AdjustmentRequested")
            if e["adjustment_id"] == "ADJ-DSP-401"
        ]
        assert adjustment["amount"] == "1000.00"

    @pytest.mark.parametrize("outcome", ["bogus", ""])
    def test_an_unknown_outcome_keeps_the_card(self, site: Site, outcome: str) -> None:
        """outcome=bogus was a 500 (no words for its confirmation)."""
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": outcome, "note": "n"}
        card = self.card(self.act(site, **form, amount="5"))
        assert WORDS["en"]["outcome_missing"] in card
        assert '<fieldset aria-invalid="true"' in card

    def test_a_resolution_without_a_note_keeps_the_card(self, site: Site) -> None:
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": "upheld", "note": " "}
        card = self.card(self.act(site, **form, amount="5"))
        assert WORDS["en"]["resolve_note_missing"].replace(";", "") in card.replace(";", "")
        assert 'value="5"' in card

    @pytest.mark.parametrize("amount", ["sNaN", "1e999999999", "12"])
    def test_a_rejected_dispute_books_no_amount(self, site: Site, amount: str) -> None:
        """Rejected, whatever the amount field holds: the confirmation says
        nothing is booked (sNaN and 1e999999999 there were a 500), and the
        rejection is recorded without it (the use case refuses an amount)."""
        site.sign_in("fin-amy", "finance")
        form = {"action": "resolve", "subject": "DSP-401", "outcome": "rejected", "note": "no"}
        confirm = self.act(site, **form, amount=amount)
        assert confirm.status_code == 200
        assert 'name="amount" value=""' in confirm.text
        assert self.act(site, **form, amount=amount, confirm="yes").status_code == 303
        resolved = [e for e in self.events(site, "DisputeResolved") if e["dispute_id"] == "DSP-401"]
        assert [e["outcome"] for e in resolved] == ["rejected"]

    def run_form(self, answer: Any) -> str:
        """The run form of a payouts page answered to a calculation, from the
        problem said above it to the form's end."""
        assert answer.status_code == 200, answer.text[:500]
        html = str(answer.text)
        return html[html.index('id="runs-h"') : html.index("</form>", html.index('id="runs-h"'))]

    @pytest.mark.parametrize("period", ["2026-13", "2026-00", "Q3", "2026-Q5", "1999-Q4", ""])
    @pytest.mark.parametrize("confirm", ["", "yes"])
    def test_a_period_the_ledger_refuses_keeps_the_form(
        self, site: Site, period: str, confirm: str
    ) -> None:
        """A run of 2026-13 (the field's pattern let any two digits through) was
        confirmed — "a payout run for 2026-13" — and then refused on an error
        page, the period lost. The payouts page comes back with the period as
        typed, the field marked and what to write; nothing is recorded."""
        site.sign_in("fin-amy", "finance")
        before = len(self.events(site, "PayoutCalculated"))
        form = self.run_form(self.act(site, action="calculate", period=period, confirm=confirm))
        assert WORDS["en"]["period_invalid"] in form
        field = form[form.index('id="run-period"') :]
        field = field[: field.index(">")]
        assert f'value="{period}"' in field
        assert 'aria-invalid="true" aria-describedby="run-problem"' in field
        assert len(self.events(site, "PayoutCalculated")) == before

    def test_a_run_that_would_cover_nobody_keeps_the_form(self, site: Site) -> None:
        """Q3 is paid for every rep of the quarter: the confirmed run is refused
        on the payouts page, saying so beside the period (it was an error page
        in the ledger's English)."""
        site.sign_in("fin-amy", "finance")
        answer = self.act(site, action="calculate", period="2026-Q3", confirm="yes")
        form = self.run_form(answer)
        assert WORDS["en"]["run_covers_nobody"].format(period="2026-Q3") in form
        assert 'value="2026-Q3" aria-invalid="true"' in form
        assert [e["period"] for e in self.events(site, "PayoutCalculated")] == ["2026-Q3"]

    def test_a_confirmation_says_a_period_has_not_ended_or_begun(self, site: Site) -> None:
        """A year typed wrong (2199-Q4) recorded a run, and every rep a period
        of it: the confirmation says the period has not begun; the quarter of
        today, that it has not ended; a past quarter, neither."""
        site.sign_in("fin-amy", "finance")
        today = datetime.now(UTC).date()
        this_quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
        w = WORDS["en"]
        said = {
            period: self.act(site, action="calculate", period=period).text
            for period in ("2199-Q4", this_quarter, "2026-Q3")
        }
        future = w["run_not_begun"].format(period="2199-Q4", start="2199-10-01")
        assert future in said["2199-Q4"]
        assert (
            w["run_not_ended"].split("{end}")[0].format(period=this_quarter) in (said[this_quarter])
        )
        assert 'class="warn"' not in said["2026-Q3"]
        assert self.events(site, "PayoutCalculated")[-1]["period"] == "2026-Q3"  # the demo's

    def test_the_queue_says_what_each_decision_moves(self, site: Site) -> None:
        """Each subject waiting for finance with its period, its amount (signed,
        grouped, red when negative) and what it is: the queue listed ids, and
        the amount was a confirmation away, one subject at a time."""
        _adjustment(site, "ADJ-NEG-1", "rep-wang", "-2500.50", "recover overpaid spiff")
        site.sign_in("fin-bob", "finance")
        page = site.client.get("/app/payouts").text
        queue = page[page.index('id="queue-h"') : page.index('id="disputes-h"')]
        row = queue[queue.index(">ADJ-NEG-1<") :]
        row = row[: row.index("</tr>")]
        for shown in ("2026-Q4", 'class="num neg">−2,500.50 CNY</td>', "recover overpaid spiff"):
            assert shown in row
        target = queue[queue.index(">T-WANG-Q3-B<") :]
        assert "2026-Q3" in target[: target.index("</tr>")]
        assert "long sick leave in August" in target[: target.index("</tr>")]

    def test_a_run_changed_since_its_calculation_says_so(self, site: Site) -> None:
        """fin-amy calculates Q4; an adjustment of rep-wang's Q4 is approved
        after it. The summary showed the run's 0.00 beside today's attainment,
        and the run's approval said nothing: now the summary shows what the
        period would pay now, and the approval's confirmation names the rep,
        with what the run pays and what the period would pay now."""
        site.sign_in("fin-amy", "finance")
        assert self.act(site, action="calculate", period="2026-Q4", confirm="yes").is_redirect
        run_id = str(self.events(site, "PayoutCalculated")[-1]["run_id"])
        _adjustment(site, "ADJ-AFTER-RUN", "rep-wang", "1500.00", "late spiff")
        site.sign_in("fin-bob", "finance")
        assert self.act(site, action="approve", subject="ADJ-AFTER-RUN", confirm="yes").is_redirect
        page = site.client.get("/app/payouts?period=2026-Q4").text
        row = page[page.index(named("rep-wang")) :]
        row = row[: row.index("</tr>")]
        assert WORDS["en"]["now_figure"].format(amount="1,500.00") in row
        assert WORDS["en"]["summary_now_hint"].replace("'", "&#39;") in page
        confirm = self.act(site, action="approve", subject=run_id).text
        assert WORDS["en"]["run_changed_since"].format(count=1).replace("'", "&#39;") in confirm
        changed = confirm[confirm.index('class="data changed"') :]
        assert named("rep-wang") in changed
        assert "1,500.00 CNY" in changed
        assert "(rep-li)" not in changed  # unchanged since the run

    def test_a_dispute_card_says_what_the_run_paid(self, site: Site) -> None:
        """The card showed ids: the period its run paid, what it paid the rep
        and the statement, one link away (which opens for finance)."""
        site.sign_in("fin-amy", "finance")
        card = self.card(site.client.get("/app/payouts"))
        said = WORDS["en"]["dispute_paid"].format(
            period="2026-Q3", amount="33,100.00", currency="CNY"
        )
        assert said in card
        assert f'href="{STATEMENT}"' in card
        assert site.client.get(STATEMENT).status_code == 200

    @pytest.mark.parametrize(
        ("actor", "role", "rep"),
        [
            ("rep-li", "rep", "rep-li"),
            ("cmp-head", "compliance", None),
            ("mgr-zhao", "manager", None),
        ],
    )
    def test_payouts_is_for_finance(
        self, site: Site, actor: str, role: str, rep: str | None
    ) -> None:
        site.sign_in(actor, role, rep)
        assert site.client.get("/app/payouts").status_code == 403
        assert (
            site.client.get(f"/app/payouts/runs/{site.demo.run_id}/export.csv").status_code == 403
        )


def _team_rows(html: str) -> list[str]:
    """The reps of the Team page's table, in order."""
    section = html[html.index('id="team-h"') : html.index('id="tdist-h"')]
    return re.findall(r'rep-id">\(([^)]+)\)', section)


def _offered(html: str) -> tuple[list[str], str | None]:
    """The periods a page's period switch offers, and the one selected."""
    selected = re.search(r'<option value="([^"]+)" selected>', html)
    return re.findall(r'<option value="([^"]+)"', html), selected and selected.group(1)


def _counts(html: str, start: str, end: str) -> list[tuple[str, int]]:
    """(label, count) of each row of the Overview's counts table between the
    sections headed ``start`` and ``end``."""
    section = html[html.index(f'id="{start}"') : html.index(f'id="{end}"')]
    found = re.findall(r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td>', section)
    return [(html_text.unescape(label), int(n)) for label, n in found]


MONTHLY_SINCE_2001 = PLAN_TOML.replace("effective_from = 2026-01-01", "effective_from = 2001-01-01")
MONTHLY_SINCE_2001 = MONTHLY_SINCE_2001.replace('period = "quarter"', 'period = "month"')


def _enrolled_in_2001(ledger: Ledger) -> None:
    """rep-old, mgr-old's since January 2001 on a monthly plan: sales in March
    2001 and October 2026, nothing recorded in the 306 months between."""
    ledger.publish_plan(load_plan(MONTHLY_SINCE_2001, "toml"), actor="admin")
    lines = [
        enrol("rep-old", at="2001-01-15T09:00:00+08:00", manager_id="mgr-old", team="old"),
        sale("S-2001", "rep-old", at="2001-03-05T10:00:00+08:00"),
        sale("S-2026", "rep-old", at="2026-10-05T10:00:00+08:00"),
    ]
    ledger.import_lines(jsonl(*lines), actor="crm-sync")


@pytest.fixture
def site_since_2001(db_url: str) -> Iterator[Site]:
    with _demo_site(db_url, date(2026, 11, 20), fill=_enrolled_in_2001) as served:
        yield served


class TestOldPeriods:
    """A rep enrolled in 2001: every month since is a period of theirs (a quiet
    one has a statement, a carried balance), and the period switches listed
    all 311 of them. They offer those with rows and the last twelve begun,
    newest first, and reach any other typed in."""

    @pytest.mark.parametrize(
        ("path", "actor", "role"),
        [
            ("/app/team", "mgr-old", "manager"),
            ("/app/payouts", "fin-amy", "finance"),
            ("/app/overview", "fin-amy", "finance"),
        ],
        ids=["team", "payouts", "overview"],
    )
    def test_the_switch_offers_the_periods_with_rows_and_the_recent_ones(
        self, site_since_2001: Site, path: str, actor: str, role: str
    ) -> None:
        site = site_since_2001
        site.sign_in(actor, role)
        offered, selected = _offered(site.client.get(path).text)
        recent = [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
        assert offered == [*recent, "2001-03"]
        assert selected == "2026-11"  # no targets anywhere: the latest
        page = site.client.get(f"{path}?period=2013-05").text  # quiet, typed in
        offered, selected = _offered(page)
        assert selected == "2013-05"
        assert offered == [*recent, "2013-05", "2001-03"]
        assert 'name="period" size="9"' in page  # the field to type one in
        assert "the first: 2001-01" in page
        if path != "/app/overview":
            assert (
                "rep-old"
                in page[page.index('id="psum-h"' if "payouts" in path else 'id="team-h"') :]
            )

    def test_the_overview_lists_the_periods_with_payouts(self, site_since_2001: Site) -> None:
        """Payouts by team list the team's two months with money in them, not
        the 308 months of zeros between."""
        site = site_since_2001
        site.sign_in("fin-amy", "finance")
        page = site.client.get("/app/overview").text
        section = page[page.index('id="payouts-h"') : page.index('id="red-h"')]
        periods = re.findall(r'role="rowheader" class="nowrap">([^<]+)</th>', section)
        assert periods == ["2026-10", "2001-03"]

    def test_my_pay_lists_the_periods_with_rows_and_the_recent_ones(
        self, site_since_2001: Site, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """My pay listed all 311 months since 2001 (and worked out a statement
        of each quiet one the read models held no row of, on every view): it
        lists those with anything in them and the last twelve begun, newest
        first, works out none of the others, and reaches any other typed in."""
        site = site_since_2001
        site.sign_in("rep-old", "rep", "rep-old")
        worked: list[str] = []
        asked = Reports.period_rows_at

        def counted(reports: Reports, rep_id: str, period: Any, position: int) -> Any:
            worked.append(str(period))
            return asked(reports, rep_id, period, position)

        monkeypatch.setattr(Reports, "period_rows_at", counted)
        page = site.client.get("/app/reps/rep-old/pay").text
        listed = re.findall(r'role="rowheader" class="nowrap"><a [^>]*>([^<]+)</a>', page)
        recent = [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
        assert listed == [*recent, "2001-03"]
        assert len(worked) <= 1  # November, begun with no row yet: none of the 300 between
        assert 'name="period" size="9"' in page
        assert "the first: 2001-01" in page
        page = site.client.get("/app/reps/rep-old/pay?period=2013-05").text  # quiet, typed in
        listed = re.findall(r'role="rowheader" class="nowrap"><a [^>]*>([^<]+)</a>', page)
        assert listed == [*recent, "2013-05", "2001-03"]
        assert 'href="/app/reps/rep-old/statements/2013-05"' in page
        assert site.client.get("/app/reps/rep-old/statements/2013-05").status_code == 200
        page = site.client.get("/app/reps/rep-old/pay?period=2000-12").text  # before enrolment
        assert WORDS["en"]["pay_period_missed"].format(period="2000-12") in page
        listed = re.findall(r'role="rowheader" class="nowrap"><a [^>]*>([^<]+)</a>', page)
        assert listed == [*recent, "2001-03"]

    def test_a_period_not_reached_is_said(self, site_since_2001: Site) -> None:
        """A period typed that is none of the team's (before the enrolment, or
        no period at all) is said, and the default shown."""
        site = site_since_2001
        site.sign_in("mgr-old", "manager")
        for asked in ("2000-12", "2013-13", "2026-Q3"):
            page = site.client.get(f"/app/team?period={asked}").text
            assert WORDS["en"]["period_missed"].format(period=asked, shown="2026-11") in page
            assert _offered(page)[1] == "2026-11"
        typed = site.client.get("/app/team?period=2013-05%20").text  # a space typed: read
        assert _offered(typed)[1] == "2013-05"
        assert "No statements here" not in typed


def _moved_on_the_first_at_three(ledger: Ledger) -> None:
    """r-moved, mgr-old's on a monthly plan, sells at 10:00 on 1 September
    and moves to mgr-new at 15:00 that day."""
    plan = PLAN_TOML.replace('period = "quarter"', 'period = "month"')
    ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
    moved = {"rep_id": "r-moved", "manager_id": "mgr-new", "team": "new"}
    lines = [
        enrol("r-moved", at="2026-06-01T09:00:00+08:00", manager_id="mgr-old", team="old"),
        sale("S-MORNING", "r-moved", at="2026-09-01T10:00:00+08:00"),
        event_line("RepTransferred", at="2026-09-01T15:00:00+08:00", actor="hr-sync", **moved),
    ]
    ledger.import_lines(jsonl(*lines), actor="crm-sync")


class TestATransferDay:
    """Whose watch an event is on is decided by its instant (the overrides'
    rule, `Reports.manager_at`), not its day."""

    def test_the_manager_moved_from_reads_the_month_the_move_began(self, db_url: str) -> None:
        """The morning's sale, before the 15:00 move, is mgr-old's (it pays their
        override): they open r-moved's September, the sale listed with who
        recorded it — by the day (the move dated 1 September) they got 404.
        October, after the move, is mgr-new's."""
        with _demo_site(db_url, date(2026, 11, 20), fill=_moved_on_the_first_at_three) as site:
            page = "/app/reps/r-moved/statements/2026-09"
            site.sign_in("mgr-old", "manager")
            shown = site.client.get(page)
            assert shown.status_code == 200, shown.text[-500:]
            morning = stored_record(site.ledger, "SaleRecorded", sale_id="S-MORNING")
            assert morning.event_id in shown.text
            assert "crm-sync" in shown.text  # read, not withheld
            api = site.client.get("/reps/r-moved/statements/2026-09", headers=site.bearer())
            assert api.status_code == 200
            assert site.client.get("/app/reps/r-moved/statements/2026-10").status_code == 404
            site.sign_in("mgr-new", "manager")  # today's manager: every period
            assert site.client.get(page).status_code == 200


def test_a_later_periods_row_takes_no_place_of_a_begun_one() -> None:
    """A row in a period not begun yet (a balance carried into January) is
    offered and leaves the last twelve begun months offered too: counted among
    them, it pushed the twelfth out of the switch."""
    keys = [f"2025-{m:02d}" for m in range(1, 13)] + [f"2026-{m:02d}" for m in range(1, 12)]
    choice = views.period_choice([*keys, "2027-01"], date(2026, 11, 20), {"2027-01"})
    begun = [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
    assert choice.offered == ["2027-01", *begun]
    assert choice.more
    assert choice.reaches("2025-01") == "2025-01"


class TestQuietPeriods:
    """A period begun in which a rep has recorded nothing (October and November
    for the demo's inside team, on 20 November) has a statement all the same,
    which a payout run covers and the period summary lists: the Team and
    Payouts pages offer it and list those reps at those figures."""

    def test_the_team_page_offers_and_lists_a_quiet_month(self, november_site: Site) -> None:
        site = november_site
        site.sign_in("lead-he", "manager")
        offered, selected = _offered(site.client.get("/app/team").text)
        assert offered == ["2026-11", "2026-10", "2026-09", "2026-08", "2026-07"]
        assert selected == "2026-09"  # still the latest month anyone is measured in
        page = site.client.get("/app/team?period=2026-11").text
        assert _offered(page)[1] == "2026-11"
        api = site.client.get("/periods/2026-11/summary", headers=site.bearer()).json()
        assert [i["rep_id"] for i in api["items"]] == ["rep-sun", "rep-xu"]
        assert _team_rows(page) == ["rep-sun", "rep-xu"]
        for item in api["items"]:
            row = page[page.index(named(item["rep_id"])) :]
            assert money(item["payable"]) in row[: row.index("</tr>")]

    def test_the_team_page_lists_every_rep_the_summary_does(self, november_site: Site) -> None:
        """The same reps, figures and status on Team as in the period summary, for
        every period offered (a rep quiet in a period was left out of Team)."""
        site = november_site
        for manager in ("lead-he", "mgr-zhao"):
            site.sign_in(manager, "manager")
            for period in _offered(site.client.get("/app/team").text)[0]:
                page = site.client.get(f"/app/team?period={period}").text
                api = site.client.get(f"/periods/{period}/summary", headers=site.bearer())
                items = api.json()["items"]
                assert _team_rows(page) == [i["rep_id"] for i in items], period
                for item in items:
                    row = page[page.index(named(item["rep_id"])) :]
                    row = row[: row.index("</tr>")]
                    assert money(item["total"]) in row, (period, item["rep_id"])

    def test_my_pay_lists_a_quiet_month(self, november_site: Site) -> None:
        """rep-xu's My pay lists October and November as the summary does (it
        stopped at September), each opening its statement."""
        site = november_site
        site.sign_in("rep-xu", "rep", "rep-xu")
        page = site.client.get("/app/reps/rep-xu/pay").text
        for month in ("2026-11", "2026-10"):
            assert f'href="/app/reps/rep-xu/statements/{month}"' in page
            item = site.client.get(f"/periods/{month}/summary", headers=site.bearer()).json()
            ((shown,),) = [[i for i in item["items"] if i["rep_id"] == "rep-xu"]]
            row = page[page.index(f"/statements/{month}") :]
            assert money(shown["payable"]) in row[: row.index("</tr>")]
            answer = site.client.get(f"/app/reps/rep-xu/statements/{month}")
            assert answer.status_code == 200

    def test_my_pay_lists_the_quiet_months_after_one_without_a_statement(
        self, ledger: Ledger
    ) -> None:
        """A rep moved in August to a plan in force only from October has no
        statement in August and September, and one in October and November (a
        draw) with nothing recorded: My pay lists those two as the summary does
        (it stopped at August, the first period without a statement)."""
        text = (ROOT / "demo" / "plans" / "inside-sales.toml").read_text(encoding="utf-8")
        later = text.replace('id = "inside-sales"', 'id = "inside-later"')
        later = later.replace("effective_from = 2026-01-01", "effective_from = 2026-10-01")
        for plan in (text, later):
            ledger.publish_plan(load_plan(plan, "toml"), actor="admin")
        ledger.import_lines(jsonl(enrol("r1", plan_id="inside-sales")), actor="hr-sync")
        moved = event_line(
            "RepPlanAssigned", at="2026-08-01T00:00:00+08:00", rep_id="r1", plan_id="inside-later"
        )
        ledger.import_lines(jsonl(sale("S1", "r1"), moved), actor="hr-sync")
        reports = Reports(ledger, today=lambda: date(2026, 11, 20))
        finance = Viewer("finance", "fin-amy")
        summary = [
            (period, item.total, item.payable)
            for period in ("2026-11", "2026-10", "2026-09", "2026-08")
            for item in WorkQueues(reports).summary(finance, period).items
        ]
        assert [p for p, _, _ in summary] == ["2026-11", "2026-10"]
        shown = [
            (r["period"], r["total"], r["payable"]) for r in views.rep_periods(reports, "r1").rows
        ]
        assert [p for p, _, _ in shown] == ["2026-11", "2026-10", "2026-07", "2026-06"]
        assert shown[:2] == summary

    def test_the_overview_counts_a_quiet_month_as_the_summary_does(
        self, november_site: Site
    ) -> None:
        """The Overview offers the months Team and Payouts offer, and counts a
        period's reps in its distribution and tiers exactly as the summary lists
        them — November's three inside reps too, with nothing recorded (it was not
        offered: its counts were of the stored rows, none); its payouts by team
        say those reps are not in their sums, and where they are."""
        site = november_site
        site.sign_in("fin-amy", "finance")
        assert {"2026-11", "2026-10"} <= set(_offered(site.client.get("/app/overview").text)[0])
        for period in ("2026-11", "2026-10", "2026-09", "2026-Q3"):
            page = site.client.get(f"/app/overview?period={period}").text
            assert _offered(page)[1] == period
            _assert_counted_as_the_summary(site, page, period)
        november = site.client.get("/app/overview?period=2026-11").text
        assert "2026-11: 3 reps with nothing recorded in it are counted above" in november
        assert 'href="/app/payouts?period=2026-11"' in november

    def test_the_overview_counts_the_summarys_reps_without_asking_it(
        self, november_site: Site, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Finance's Overview counts each period's reps from their stored rows
        and works out only the quiet ones (no stored rows), as the summary does
        — not the summary of every rep validated whole (half the page's time at
        10,000 reps) — and its counts are the summary's exactly, in every
        period offered: quarters, months, quiet months."""
        site = november_site
        site.sign_in("fin-amy", "finance")

        def unasked(*_: object) -> None:
            raise AssertionError("the Overview asked for the whole summary")

        offered = _offered(site.client.get("/app/overview").text)[0]
        assert {"2026-11", "2026-10", "2026-Q3"} <= set(offered)
        for period in offered:
            with monkeypatch.context() as patched:
                patched.setattr(WorkQueues, "summary_items", unasked)
                page = site.client.get(f"/app/overview?period={period}").text
            _assert_counted_as_the_summary(site, page, period)

    def test_the_payouts_page_offers_a_quiet_month(self, november_site: Site) -> None:
        site = november_site
        site.sign_in("fin-amy", "finance")
        offered, _ = _offered(site.client.get("/app/payouts").text)
        assert {"2026-11", "2026-10", "2026-Q4"} <= set(offered)
        page = site.client.get("/app/payouts?period=2026-10").text
        assert _offered(page)[1] == "2026-10"
        section = page[page.index('id="psum-h"') : page.index('id="runs-h"')]
        assert named("rep-sun") in section
        assert named("rep-xu") in section


def _assert_counted_as_the_summary(site: Site, page: str, period: str) -> None:
    """The Overview ``page``'s distribution and tier counts of ``period`` are
    those of the period summary's reps (`GET /periods/{period}/summary`)."""
    api = site.client.get(f"/periods/{period}/summary?limit=500", headers=site.bearer())
    items = api.json()["items"]
    buckets = Counter(views.bucket(i["attainment"]) for i in items)
    tiers = Counter(i["tier_coefficient"] or "no target" for i in items)
    assert _counts(page, "dist-h", "tiers-h") == [
        ("no target" if label == views.NO_TARGET else label, buckets[label])
        for label in views.BUCKET_LABELS
    ], period
    assert dict(_counts(page, "tiers-h", "payouts-h")) == dict(tiers), period


class TestTheLastPeriod:
    def test_pages_over_a_paid_2199_q4_corrected_past_the_edge(self, db_url: str) -> None:
        """The read models hold the period after a paid 2199-Q4 (its
        correction and carried balance), a key outside SPEC §2's bounds:
        Payouts, Overview and Team read it back as an input and answered
        500, and the paid statement's side by side asked for its statement
        (a 422 page). None of them offers it; each answers."""

        def fill(ledger: Ledger) -> None:
            pay_the_last_quarter(ledger, Reports(ledger))

        with _demo_site(db_url, fill=fill) as site:
            pages = {
                ("fin-amy", "finance", None): ["/app/payouts", "/app/overview"],
                ("mgr", "manager", None): ["/app/team", "/app/team?period=2199-Q4"],
                ("rq", "rep", "rq"): ["/app/reps/rq/pay", "/app/reps/rq/statements/2199-Q4"],
            }
            for who, paths in pages.items():
                site.sign_in(*who)
                for path in paths:
                    answer = site.client.get(path)
                    assert answer.status_code == 200, (path, answer.text[-300:])
                    assert "2200-Q1" not in _offered(answer.text)[0], path
                    assert "/statements/2200-Q1" not in answer.text, path
                    if path == "/app/team":
                        assert _offered(answer.text)[0][0] == "2199-Q4"


class TestTeamAndCases:
    def test_a_manager_sees_their_team(self, site: Site) -> None:
        """mgr-zhao's three reps in 2026-Q3 with attainment and payable; the pending
        target change is listed; another manager sees none of them."""
        site.sign_in("mgr-zhao", "manager")
        page = site.client.get("/app/team?period=2026-Q3").text
        for rep in ("rep-li", "rep-chen", "rep-wang"):
            assert rep in page
        assert "1.1500" in page  # rep-li's attainment
        row = page[page.index(named("rep-li")) :]
        assert ">33,100.00 CNY</td>" in row[: row.index("</tr>")]  # money with its currency
        assert "T-WANG-Q3-B" in page
        site.sign_in("mgr-qian", "manager")
        other = site.client.get("/app/team?period=2026-Q3").text
        assert "rep-li" not in other
        assert "T-WANG-Q3-B" not in other

    def test_ids_in_a_queue_are_not_broken_at_their_hyphens(self, site: Site) -> None:
        """A narrow column broke "mgr-zhao" after its hyphen ("mgr-" / "zhao")
        and a subject or run id likewise: each is kept whole (`kept`), as the
        history keeps its ids; a longer one still breaks anywhere. A subject's
        kind is kept on one line on a desktop ("目标" / "变更")."""
        site.sign_in("mgr-zhao", "manager")
        page = site.client.get("/app/team?period=2026-Q3").text
        row = page[page.index(">T-WANG-Q3-B<") :]
        row = row[: row.index("</tr>")]
        assert '<span class="kept">mgr-zhao</span>' in row
        assert '<td role="cell" data-label="Kind" class="nowrap">target change</td>' in row
        assert 'data-raw><span class="kept">T-WANG-Q3-B</span></th>' in page
        site.sign_in("fin-amy", "finance")
        payouts = site.client.get("/app/payouts").text
        runs = payouts[payouts.index('id="runs-h"') :]
        assert re.search(r'data-raw><span class="kept">run-2026-Q3-[0-9a-f]+</span></th>', runs)
        assert 'data-raw><span class="kept">fin-amy</span></td>' in runs

    def test_a_corrected_period_reads_corrected_as_on_my_pay(self, site: Site) -> None:
        """rep-li's 2026-Q3 was paid, and a later cancellation corrected it: My pay
        says "corrected", and so does the manager's team page (it said "paid")."""
        w = WORDS["en"]
        site.sign_in("mgr-zhao", "manager")
        page = site.client.get("/app/team?period=2026-Q3").text
        row = page[page.index("rep-li") :]
        row = row[: row.index("</tr>")]
        assert w["status_corrected"] in row
        assert w["status_paid"] not in row

    def test_a_team_of_more_than_a_page_is_listed_a_page_at_a_time(self, site: Site) -> None:
        """A manager of 503 reps sees "Reps 1–500 of 503." and a link to the next
        page, which lists the other 3 and links back: every rep of the period
        summary once, in its order (the table was cut at 500, saying nothing);
        the distribution counts all 503."""
        reps = [f"big-{n:03d}" for n in range(503)]
        site.ledger.import_lines(
            jsonl(*(enrol(r, manager_id="mgr-big", team="big") for r in reps)), actor="hr-sync"
        )
        site.sign_in("mgr-big", "manager")
        first = site.client.get("/app/team?period=2026-Q3").text
        assert "Reps 1–500 of 503." in first
        assert 'href="/app/team?period=2026-Q3&amp;offset=500">Next reps</a>' in first
        assert "Previous reps" not in first
        second = site.client.get("/app/team?period=2026-Q3&offset=500").text
        assert "Reps 501–503 of 503." in second
        assert 'href="/app/team?period=2026-Q3&amp;offset=0">Previous reps</a>' in second
        assert "Next reps" not in second
        assert _team_rows(first) + _team_rows(second) == reps
        distribution = second[second.index('id="tdist-h"') : second.index('id="twait-h"')]
        counts = re.findall(r'<td class="num">(\d+)</td>', distribution)
        assert sum(int(n) for n in counts) == len(reps)
        past = site.client.get("/app/team?period=2026-Q3&offset=9000").text  # the last page
        assert _team_rows(past) == reps[500:]
        site.sign_in("fin-amy", "finance")  # the period summary pages alike
        payouts = site.client.get("/app/payouts?period=2026-Q3").text
        assert payouts.count("Reps 1–500 of ") == 2  # above the table and below it
        past = site.client.get("/app/payouts?period=2026-Q3&offset=9000").text
        assert re.search(r"Reps 501–\d+ of ", past), "past the end: the last page"

    def test_a_team_page_offers_the_teams_own_periods(self, site: Site) -> None:
        """The periods offered, and the one opened by default, are the team's (read
        a rep at a time): the quarterly east team is not offered the inside team's
        months, and lead He opens on September, not on the larger team's quarter."""
        site.sign_in("mgr-zhao", "manager")
        east = site.client.get("/app/team").text
        assert '<option value="2026-Q3" selected>' in east
        assert 'value="2026-09"' not in east
        site.sign_in("lead-he", "manager")
        inside = site.client.get("/app/team").text
        assert '<option value="2026-09" selected>' in inside
        assert 'value="2026-Q3"' not in inside
        assert "rep-sun" in inside
        assert "rep-li" not in inside

    @pytest.mark.parametrize(
        ("actor", "role", "rep", "path"),
        [
            ("rep-li", "rep", "rep-li", "/app/team"),
            ("fin-amy", "finance", None, "/app/team"),
            ("rep-li", "rep", "rep-li", "/app/cases"),
            ("mgr-zhao", "manager", None, "/app/cases"),
            ("fin-amy", "finance", None, "/app/cases"),
        ],
    )
    def test_team_and_cases_are_for_their_roles(
        self, site: Site, actor: str, role: str, rep: str | None, path: str
    ) -> None:
        site.sign_in(actor, role, rep)
        assert site.client.get(path).status_code == 403

    def test_the_case_queue_says_what_each_case_is(self, site: Site) -> None:
        """A red-line case waiting on Cases with its code and description (the
        queue showed its id and rep); no period column, which no case has."""
        _red_line_case(site, "CASE-303")
        site.sign_in("cmp-head", "compliance")
        page = site.client.get("/app/cases").text
        queue = page[page.index('id="cwait-h"') : page.index('id="ccount-h"')]
        row = queue[queue.index(">CASE-303<") :]
        assert "leak: price list shared" in row[: row.index("</tr>")]
        assert f">{WORDS['en']['period']}</th>" not in queue

    def test_every_case_newest_first_by_its_instant(self, site: Site) -> None:
        """A case at 09:00 in Beijing (01:00 UTC) happened before one at 03:00
        UTC the same day: newest first, the later one leads — sorted by the
        text of their times, the Beijing one did."""
        for case_id, at in (("CASE-BJ", "09:00:00+08:00"), ("CASE-UTC", "03:00:00+00:00")):
            line = (
                f'{{"type": "ViolationRecorded", "occurred_at": "2026-11-02T{at}", '
                f'"actor": "cmp-sun", "case_id": "{case_id}", "rep_id": "rep-wang", '
                '"code": "late", "severity": "minor", "description": "late report"}'
            )
            site.ledger.import_lines([line], actor="cmp-sun")
        site.sign_in("cmp-head", "compliance")
        page = site.client.get("/app/cases").text
        every = page[page.index('id="clist-h"') :]
        assert every.index(">CASE-UTC<") < every.index(">CASE-BJ<")

    def test_compliance_decides_a_red_line_case(self, site: Site) -> None:
        """A new red-line case waits on Cases; compliance approves it after the
        confirmation; the recorder could not have (maker-checker, 409)."""
        _red_line_case(site, "CASE-301")
        site.sign_in("cmp-sun", "compliance")
        csrf = site.csrf("/app/cases")
        own = site.client.post(
            "/app/cases/act",
            data={"csrf": csrf, "action": "approve", "subject": "CASE-301", "confirm": "yes"},
        )
        assert own.status_code == 409
        # The page says in its reader's language what was refused; the ledger's
        # reason, which names the field, stays beside it, marked as English.
        assert WORDS["en"]["refused_self_approval"] in own.text
        zh = site.client.post(
            "/app/cases/act?lang=zh-CN",
            data={"csrf": csrf, "action": "approve", "subject": "CASE-301", "confirm": "yes"},
        )
        assert zh.status_code == 409
        assert WORDS["zh-CN"]["refused_self_approval"] in zh.text
        assert WORDS["zh-CN"]["refused_detail"] in zh.text
        assert '<span lang="en">' in zh.text
        assert "CASE-301" in zh.text
        site.client.cookies.delete("il_lang")
        site.sign_in("cmp-head", "compliance")
        assert "CASE-301" in site.client.get("/app/cases").text
        csrf = site.csrf("/app/cases")
        form = {"csrf": csrf, "action": "approve", "subject": "CASE-301"}
        assert "rep-wang" in site.client.post("/app/cases/act", data=form).text
        done = site.client.post(
            "/app/cases/act", data={**form, "confirm": "yes"}, follow_redirects=False
        )
        assert done.status_code == 303
        granted = [
            r.actor
            for r in site.ledger.iter_log()
            if r.type == "ApprovalGranted" and r.data["subject_id"] == "CASE-301"
        ]
        assert granted == ["cmp-head"]

    def test_compliance_rejects_a_red_line_case_saying_why(self, site: Site) -> None:
        _red_line_case(site, "CASE-302")
        site.sign_in("cmp-head", "compliance")
        csrf = site.csrf("/app/cases")
        form = {"csrf": csrf, "action": "reject", "subject": "CASE-302"}
        assert 'name="note"' in site.client.post("/app/cases/act", data=form).text
        bare = site.client.post("/app/cases/act", data={**form, "confirm": "yes"})
        assert bare.status_code == 200
        assert WORDS["en"]["reject_note_missing"] in bare.text
        done = site.client.post(
            "/app/cases/act",
            data={**form, "confirm": "yes", "note": "no evidence"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        rejected = [
            (r.actor, r.data.get("note"))
            for r in site.ledger.iter_log()
            if r.type == "ApprovalRejected" and r.data["subject_id"] == "CASE-302"
        ]
        assert rejected == [("cmp-head", "no evidence")]

    @pytest.mark.parametrize("lang", ["en", "zh-CN"])
    def test_a_case_shows_its_amount_in_its_currency_and_its_words_whole(
        self, site: Site, lang: str
    ) -> None:
        """CASE-201's amount reads "3,200.00 CNY", the currency of the statement
        its fine is booked in (it read "3,200.00": money in no currency); each
        word of its evidence is kept whole ("expense-" / "report ER-" / "5531"
        on a narrow column), and a code too long for a line is breakable
        anywhere instead of pushing the table sideways."""
        site.sign_in("cmp-head", "compliance")
        row = _history_row(site, "rep-chen", "CASE-201", lang)
        amount = re.search(r'<td role="cell" data-label="[^"]+" class="num">([^<]*)</td>', row)
        assert amount is not None
        assert amount.group(1) == "3,200.00 CNY"
        assert "3,200.00 CNY" in _text(row[row.index(amount.group(0)) + len(amount.group(0)) :])
        evidence = '<span class="kept">expense-report</span> <span class="kept">ER-5531</span>'
        assert evidence in row
        long_code = "false-expense-claim-" * 4
        case = event_line(
            "ViolationRecorded",
            at="2026-11-03T10:00:00+08:00",
            actor="cmp-sun",
            case_id="CASE-LONG",
            rep_id="rep-chen",
            code=long_code,
            severity="minor",
            description="a long code",
        )
        site.ledger.import_lines(jsonl(case), actor="cmp-sun")
        row = _history_row(site, "rep-chen", "CASE-LONG", lang)
        assert f'<span class="breakable">{long_code}</span>' in row

    def test_history_follows_the_api_scope(self, site: Site) -> None:
        """compliance reads anyone's history; a rep only their own (404 otherwise)."""
        site.sign_in("cmp-head", "compliance")
        history = site.client.get("/app/reps/rep-chen/history").text
        assert "CASE-201" in history
        assert "fined 3,200.00 CNY (the amount involved)" in history  # what the fine was
        site.sign_in("rep-li", "rep", "rep-li")
        assert site.client.get("/app/reps/rep-chen/history").status_code == 404
        assert site.client.get("/app/reps/rep-li/history").status_code == 200

    @pytest.mark.parametrize(
        ("who", "lang"),
        [
            (("cmp-head", "compliance", None), "en"),
            (("cmp-head", "compliance", None), "zh-CN"),
            (("rep-chen", "rep", "rep-chen"), "en"),  # the rep reads what the API gives them
        ],
    )
    def test_history_shows_who_recorded_and_approved_a_case(
        self, site: Site, who: tuple[str, str, str | None], lang: str
    ) -> None:
        """Each entry a row (a card on a phone): the red-line case's type and
        severity, when it occurred and was recorded, by whom, its evidence, the
        amount fined, who approved it and when (it showed one line of text)."""
        site.sign_in(*who)
        row = _history_row(site, "rep-chen", "CASE-201", lang)
        approval = _case_decision(site, "CASE-201")
        w = WORDS[lang]
        assert w["entry_case"].format(severity="红线" if lang == "zh-CN" else "red line") in row
        assert "false-expense-claim" in row
        assert "2026-09-12 10:00 +08:00" in _text(row)  # occurred, as its event gave it
        case = next(r for r in site.ledger.iter_log() if r.data.get("case_id") == "CASE-201")
        assert f"cmp-sun {views.recorded_moment(case.recorded_at)}" in _text(row)
        assert "expense-report ER-5531" in _text(row)
        assert "calendar export 2026-08" in _text(row)
        assert money("3200.00") in row
        at = views.recorded_moment(approval.recorded_at)
        status = w["case_approved"]
        assert w["decided_by_at"].format(status=status, actor="cmp-head", at=at) in _text(row)
        # the decision's note: why the case was approved (or rejected)
        assert w["decision_note"].format(note="confirmed by internal audit") in _text(row)

    def test_history_shows_who_overturned_a_case(self, site: Site) -> None:
        """An overturned case says who overturned it and when, and the
        overturning is an entry of its own with its reason."""
        overturned = {"actor": "cmp-head", "case_id": "CASE-201", "reason": "visits took place"}
        appeal = event_line("ViolationOverturned", at="2026-10-08T10:00:00+08:00", **overturned)
        site.ledger.import_lines(jsonl(appeal), actor="cmp-head")
        site.sign_in("cmp-head", "compliance")
        row = _history_row(site, "rep-chen", "CASE-201", "en")
        overturn = next(r for r in site.ledger.iter_log() if r.type == "ViolationOverturned")
        at = views.recorded_moment(overturn.recorded_at)
        assert f"overturned by cmp-head, {at}" in _text(row)
        rows = _history_rows(site.client.get("/app/reps/rep-chen/history").text)
        assert "visits took place" in rows[-1]
        assert WORDS["en"]["entry_overturned"] in rows[-1]


def _history_rows(html: str) -> list[str]:
    """The rows of a history page's table, as HTML."""
    return re.findall(r'<tr role="row" class="history-.*?</tr>', html, re.DOTALL)


def _history_row(site: Site, rep_id: str, case_id: str, lang: str) -> str:
    """The row of case ``case_id`` on ``rep_id``'s history page in ``lang``."""
    answer = site.client.get(f"/app/reps/{rep_id}/history?lang={lang}")
    assert answer.status_code == 200, answer.text
    rows = _history_rows(answer.text)
    (row,) = [r for r in rows if 'class="history-case"' in r and f">{case_id}</span></th>" in r]
    return row


def _text(html: str) -> str:
    """HTML's text: its tags dropped, runs of white space one space."""
    return " ".join(re.sub(r"<[^>]+>", "", html).split())


def _case_decision(site: Site, case_id: str) -> Any:
    """The recorded decision on ``case_id``."""
    return next(
        r
        for r in site.ledger.iter_log()
        if r.type == "ApprovalGranted" and r.data["subject_id"] == case_id
    )


def _red_line_case(site: Site, case_id: str) -> None:
    """A red-line case of rep-wang recorded by cmp-sun, waiting for a decision."""
    line = (
        '{"type": "ViolationRecorded", "occurred_at": "2026-11-02T10:00:00+08:00", '
        f'"actor": "cmp-sun", "case_id": "{case_id}", "rep_id": "rep-wang", '
        '"code": "leak", "severity": "red_line", "description": "price list shared"}'
    )
    site.ledger.import_lines([line], actor="cmp-sun")


def test_a_statement_page_lists_no_event_its_reader_may_not_read(site: Site) -> None:
    """rep-sun moved from lead-he to mgr-zhao on 15 November and sold on the
    20th: lead-he still reads rep-sun's November statement (they managed
    rep-sun half of it), but that sale is mgr-zhao's team's — GET /events
    refuses it to lead-he — so the events under its line do not show who
    recorded it and when, as the diff does not (its id alone). mgr-zhao's
    page shows it. The page listed it to both."""
    moved = event_line(
        "RepTransferred", at="2026-11-15T09:00:00+08:00", rep_id="rep-sun", manager_id="mgr-zhao"
    )
    late = sale(
        "S-SUN-LATE", "rep-sun", "7777.00", at="2026-11-20T10:00:00+08:00", actor="crm-late"
    )
    site.ledger.import_lines(jsonl(moved), actor="it-admin")
    site.ledger.import_lines(jsonl(late), actor="crm-late")
    page = "/app/reps/rep-sun/statements/2026-11"
    site.sign_in("mgr-zhao", "manager")
    assert "crm-late" in site.client.get(page).text
    site.sign_in("lead-he", "manager")
    shown = site.client.get(page)
    assert shown.status_code == 200, shown.text
    assert "crm-late" not in shown.text
    # still listed under its line, as the line cites it: by its id alone
    late_id = stored_record(site.ledger, "SaleRecorded", sale_id="S-SUN-LATE").event_id
    assert late_id in shown.text
