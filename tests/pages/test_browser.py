"""The web pages in a real browser (Debian's chromium, driven by Playwright):
sign-in and sign-out, each page in English and Chinese, BOLA by URL, no request
to another origin, no console errors, no English left on Chinese pages, pages
read with JavaScript off, a dispute raised from a statement line — and the
screenshots of every page (both languages, desktop and 375 px phone width)
written to ``docs/screenshots/`` for the README and for people to look at.

Under ``CI=true`` these fail when chromium is missing (`.ci/run` installs it);
elsewhere they skip, saying why.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from api.pages.i18n import WORDS
from api.pages.session import SigninCodes
from api.settings import Settings
from demo import DemoResult, run_demo
from ledger.application import Ledger
from tests.builders import enrol, free_port, jsonl, sale
from tests.builders import line as event_line
from tests.conftest import IN_CI

playwright_api = pytest.importorskip("playwright.sync_api")

SECRET = "test-token-secret-0123456789abcdef"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
LOCALES = ("en", "zh-CN")
STATEMENT_PATH = "/app/reps/rep-li/statements/2026-Q3"
LI = {"en": "Li Wei (rep-li)", "zh-CN": "Li Wei（rep-li）"}  # rep-li, as the pages name them


# what htmx keeps of the pages a tab left (its copy of each; the other key it
# keeps, the current path, is no page)
_HISTORY_CACHE = "sessionStorage.getItem('htmx-history-cache')"


def _need_chromium() -> str:
    if CHROMIUM is not None:
        return CHROMIUM
    message = "chromium is not installed (apt-get install chromium fonts-wqy-zenhei)"
    if IN_CI:
        pytest.fail(message + " (CI=true: the browser tests must run)")
    pytest.skip(message)


@dataclass
class Server:
    base: str
    codes: SigninCodes
    ledger: Ledger
    demo: DemoResult

    def link(self, actor: str, role: str, rep_id: str | None = None) -> str:
        return f"{self.base}/app/signin/{self.codes.issue(actor=actor, role=role, rep_id=rep_id)}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app under uvicorn on a free port, over a fresh demo database."""
    _need_chromium()
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'ledger.db'}"
    ledger = Ledger(url)
    demo = run_demo(ledger)
    app = create_app(
        Settings(database_url=url, token_secret=SECRET),  # type: ignore[arg-type]
        ledger=ledger,
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", app.state.signin_codes, ledger, demo)
    uv.should_exit = True
    thread.join(timeout=120)
    # closing a store a thread still reads on can crash the process (a
    # segfault in the driver): only once the server and its threads stopped
    if not thread.is_alive() and getattr(app.state, "stopped_cleanly", False):
        ledger.close()


@dataclass
class Watch:
    """What a page did that it should not: requests elsewhere, console errors."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    allowed: set[int] = field(default_factory=set)  # statuses a test navigates to on purpose

    def attach(self, context: Any) -> None:
        def route(r: Any) -> None:
            if r.request.url.startswith(self.origin + "/") or r.request.url == self.origin:
                r.continue_()
            else:
                self.foreign.append(r.request.url)
                r.abort()

        context.route("**/*", route)

        def on_page(page: Any) -> None:
            page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: self.errors.append(str(e)))

        context.on("page", on_page)

    def check(self) -> None:
        assert self.foreign == [], f"requests left the origin: {self.foreign}"
        expected = {
            f"Failed to load resource: the server responded with a status of {status}"
            for status in self.allowed
        }
        errors = [e for e in self.errors if not any(e.startswith(x) for x in expected)]
        assert errors == [], f"console errors: {errors}"


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_need_chromium(), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def open_context(browser: Any, server: Server) -> Iterator[Any]:
    """Make browser contexts (desktop or phone, scripts on or off), each watched;
    every watch is checked when the test ends."""
    made: list[tuple[Any, Watch]] = []

    def make(
        *, phone: bool = False, scripts: bool = True, locale: str = "en-US"
    ) -> tuple[Any, Watch]:
        context = browser.new_context(
            viewport=PHONE if phone else DESKTOP,
            java_script_enabled=scripts,
            locale=locale,
            device_scale_factor=1,
        )
        watch = Watch(server.base)
        watch.attach(context)
        made.append((context, watch))
        return context, watch

    yield make
    for context, watch in made:
        context.close()
        watch.check()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


_LEFTOVER_JS = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const out = [];
  while (walker.nextNode()) {
    const n = walker.currentNode;
    const el = n.parentElement;
    if (!el || el.closest('[data-raw], [lang="en"], script, style, .visually-hidden')) continue;
    if (el.closest('details:not([open])') && !el.closest('summary')) continue;
    out.push(n.textContent);
  }
  return out.join(' ');
}"""
# Ids, codes and units that are not words: rep and run ids, periods, currency
# codes; and names of formats and programs, which Chinese writes as they are.
_NOT_WORDS = re.compile(
    r"(?:[A-Za-z]+(?:-[A-Za-z0-9]+)+|20\d\d-Q\d|20\d\d-\d\d|CNY|UTC|API|CSV|Excel|v\d+)"
)


def english_left(page: Any) -> list[str]:
    text = _NOT_WORDS.sub(" ", page.evaluate(_LEFTOVER_JS))
    return re.findall(r"[A-Za-z]{2,}", text)


ELSEWHERE = "https://mail.elsewhere.example/"


def elsewhere(page: Any, html: str) -> None:
    """Open a page of another site (``ELSEWHERE``, served by the test) showing ``html``."""
    page.route(
        ELSEWHERE + "**", lambda r: r.fulfill(status=200, content_type="text/html", body=html)
    )
    page.goto(ELSEWHERE)


def sign_in(context: Any, link: str) -> Any:
    """Open the link and press its page's button (the link alone spends nothing)."""
    page = context.new_page()
    page.goto(link)
    page.locator('form[action="/app/signin"] button').click()
    page.wait_for_url(re.compile(r".*/app/(?!signin).*"))
    return page


@pytest.fixture
def open_page(server: Server, open_context: Any) -> Any:
    """Sign in with ``link`` in a new context (a phone's width or a desktop's,
    scripts on or off), then open ``path`` — in ``lang`` when given."""

    def open_(
        link: str, path: str, *, lang: str | None = None, phone: bool = False, scripts: bool = True
    ) -> Any:
        context, _ = open_context(phone=phone, scripts=scripts)
        page = sign_in(context, link)
        if lang is not None:
            path += f"{'&' if '?' in path else '?'}lang={lang}"
        page.goto(server.base + path)
        return page

    return open_


def approve_in_queue(page: Any, subject_id: str) -> None:
    """Approve ``subject_id`` from the payouts page, through its confirmation page."""
    w = WORDS["en"]
    page.get_by_role("button", name=f"{w['action_approve']} {subject_id}", exact=True).click()
    page.get_by_role("button", name=w["confirm_approve"]).click()
    wait_for_note(page, "done_approve", subject_id)


def wait_for_note(page: Any, key: str, subject: str | None = None, lang: str = "en") -> str:
    """The note a form's redirect leaves on the page it leads to (a signed
    one-shot cookie: never the URL), once the page is back; its text."""
    page.wait_for_selector('main p.note[role="status"]')
    text: str = page.locator('main p.note[role="status"]').inner_text()
    before = WORDS[lang][key].split("{subject}")[0]
    assert text.startswith(before), text
    if subject is not None:
        assert text == WORDS[lang][key].format(subject=subject)
    return text


def shot_in(page: Any, name: str, lang: str, phone: bool = False) -> None:
    """The page's screenshot, named for its language and width; a zh-CN page shows
    no English words (ids, codes and the statement wording's data aside)."""
    _shot(page, f"{name}-{lang}-{'phone' if phone else 'desktop'}")
    if lang == "zh-CN":
        assert english_left(page) == []


class TestSignIn:
    def test_sign_in_and_sign_out(self, server: Server, open_context: Any) -> None:
        """The link lands on My pay with the code gone from the URL and the session
        out of scripts' reach; sign-out ends it; the same link then fails."""
        context, watch = open_context()
        watch.allowed = {401, 410}
        link = server.link("rep-li", "rep", "rep-li")
        page = sign_in(context, link)
        assert page.url == f"{server.base}/app/reps/rep-li/pay"
        assert "il_session" not in page.evaluate("document.cookie")
        cookie = next(c for c in context.cookies() if c["name"] == "il_session")
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        page.get_by_role("button", name=WORDS["en"]["sign_out"]).click()
        page.wait_for_url(re.compile(r".*/app/\?signed_out=1$"))
        assert WORDS["en"]["home_signed_out"] in page.content()
        _shot(page, "signed-out-en-desktop")
        page.goto(f"{server.base}/app/reps/rep-li/pay")
        assert WORDS["en"]["error_signin"] in page.content()
        again = page.goto(link)
        assert again is not None
        assert again.status == 410
        assert WORDS["en"]["signin_failed_title"] in page.content()

    def test_no_page_is_kept_in_the_tabs_storage(self, server: Server, open_context: Any) -> None:
        """Pages are sent no-store, but htmx's history cache copied each page
        left through the (boosted) menu into the tab's sessionStorage: pay
        figures kept there, after sign-out too. Back now asks the server again."""
        context, _ = open_context()
        page = sign_in(context, server.link("fin-amy", "finance"))
        assert page.url.endswith("/app/overview")
        page.get_by_role("link", name=WORDS["en"]["nav_payouts"]).click()
        page.wait_for_url(re.compile(r".*/app/payouts$"))
        assert page.evaluate(_HISTORY_CACHE) is None
        page.go_back()
        page.wait_for_url(re.compile(r".*/app/overview$"))
        page.get_by_role("heading", name=WORDS["en"]["payouts_by_team"]).wait_for()
        page.get_by_role("button", name=WORDS["en"]["sign_out"]).click()
        page.wait_for_url(re.compile(r".*/app/\?signed_out=1$"))
        assert page.evaluate(_HISTORY_CACHE) is None

    def test_a_link_works_once_in_two_browsers(self, server: Server, open_context: Any) -> None:
        first, _ = open_context()
        second, watch = open_context()
        watch.allowed = {410}
        link = server.link("fin-amy", "finance")
        assert sign_in(first, link).url.endswith("/app/overview")
        page = second.new_page()
        answer = page.goto(link)
        assert answer is not None
        assert answer.status == 410

    def test_a_link_opened_from_another_site_signs_in(
        self, server: Server, open_context: Any
    ) -> None:
        """A link clicked in a webmail or a chat (another site): the sign-in used
        to be spent by that GET, its SameSite=Strict cookie then withheld from
        the redirect — the user landed signed out, the link used up. Now the
        link's page asks, and its button (this site's own post) signs in."""
        context, _ = open_context()
        link = server.link("rep-li", "rep", "rep-li")
        page = context.new_page()
        elsewhere(page, f'<a id="mail" href="{link}">your sign-in link</a>')
        page.click("#mail")
        page.wait_for_url(link)
        assert page.get_by_role("button").filter(has_text="rep-li").is_visible()
        _shot(page, "signin-en-desktop")
        page.locator('form[action="/app/signin"] button').click()
        page.wait_for_url(f"{server.base}/app/reps/rep-li/pay")
        assert page.get_by_role("heading", level=1).inner_text() == WORDS["en"]["pay_title"].format(
            rep=LI["en"]
        )

    def test_another_site_cannot_sign_a_user_in(self, server: Server, open_context: Any) -> None:
        """Login CSRF: a page elsewhere posting an attacker's code to /app/signin
        would swap a finance user's session for the attacker's. The browser says
        the post is cross-site: refused, the session kept, the code unspent."""
        context, watch = open_context()
        watch.allowed = {403}
        page = sign_in(context, server.link("fin-amy", "finance"))
        code = server.codes.issue(actor="rep-li", role="rep", rep_id="rep-li")
        elsewhere(
            page,
            f'<form method="post" action="{server.base}/app/signin">'
            f'<input type="hidden" name="code" value="{code}"><button>go</button></form>',
        )
        page.click("button")
        page.wait_for_load_state()
        assert WORDS["en"]["error_cross_site"] in page.inner_text("main")
        page.goto(f"{server.base}/app/")
        assert page.url == f"{server.base}/app/overview"  # still fin-amy
        assert server.codes.peek(code) is not None


# How many lines an element's text takes.
_LINES_JS = """e => { const r = document.createRange(); r.selectNodeContents(e);
  return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; }"""


class TestPagesPerRole:
    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    def test_my_pay_and_statement(
        self, server: Server, open_page: Any, lang: str, phone: bool
    ) -> None:
        """A rep's pages in both languages, at both widths; the zh-CN pages show
        no English words (ids, codes and the statement wording's data aside)."""
        link = server.link("rep-li", "rep", "rep-li")
        page = open_page(link, "/app/reps/rep-li/pay", lang=lang, phone=phone)
        w = WORDS[lang]
        assert page.get_by_role("heading", level=1).inner_text() == w["pay_title"].format(
            rep=LI[lang]
        )
        shot_in(page, "my-pay", lang, phone)
        page.get_by_role("link", name=w["open_statement"].format(period="2026-Q3")).click()
        page.wait_for_url(re.compile(r".*/statements/2026-Q3$"))
        assert "33,100.00" in page.inner_text("main")
        page.locator("details").first.locator("summary").click()
        assert page.locator("details").first.get_attribute("open") is not None
        shot_in(page, "statement", lang, phone)

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    def test_overview(self, server: Server, open_page: Any, lang: str, phone: bool) -> None:
        """Finance's dashboard with its charts drawn from the tables it shows."""
        page = open_page(server.link("fin-amy", "finance"), "/app/overview", lang=lang, phone=phone)
        w = WORDS[lang]
        assert page.get_by_role("heading", level=2, name=w["distribution"]).is_visible()
        page.wait_for_selector("div.chart canvas")
        assert page.locator("div.chart canvas").count() == 2
        assert "55,350.00" in page.inner_text("main")  # the Q3 run's payable, team east
        shot_in(page, "overview", lang, phone)

    def test_language_switch_is_remembered(self, server: Server, open_context: Any) -> None:
        """The switch on every page changes the language, and the next page keeps it."""
        context, _ = open_context(locale="en-US")
        page = sign_in(context, server.link("rep-li", "rep", "rep-li"))
        page.get_by_role("link", name="简体中文").click()
        page.wait_for_url(re.compile(r".*lang=zh-CN$"))
        assert page.get_by_role("heading", level=1).inner_text() == "Li Wei（rep-li） 的薪酬"
        page.goto(f"{server.base}/app/reps/rep-li/statements/2026-Q4")
        assert WORDS["zh-CN"]["summary"] in page.inner_text("main")

    def test_accept_language_picks_chinese(self, server: Server, open_context: Any) -> None:
        context, _ = open_context(locale="zh-CN")
        page = sign_in(context, server.link("rep-li", "rep", "rep-li"))
        assert WORDS["zh-CN"]["pay_intro"] in page.inner_text("main")

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    @pytest.mark.parametrize(
        ("who", "path", "name", "expected"),
        [
            (("mgr-zhao", "manager"), "/app/team?period=2026-Q3", "team", "rep-wang"),
            (("cmp-head", "compliance"), "/app/cases", "cases", "CASE-201"),
            (("cmp-head", "compliance"), "/app/reps/rep-wang/history", "history", "CASE-102"),
            # a red-line case: its evidence, amount, recorder and approver
            (
                ("cmp-head", "compliance"),
                "/app/reps/rep-chen/history",
                "history-red-line",
                "ER-5531",
            ),
        ],
    )
    def test_team_cases_history(
        self,
        *,
        server: Server,
        open_page: Any,
        lang: str,
        phone: bool,
        who: tuple[str, str],
        path: str,
        name: str,
        expected: str,
    ) -> None:
        """A manager's Team, compliance's Cases and a history, in both languages."""
        page = open_page(server.link(*who), path, lang=lang, phone=phone)
        assert expected in page.inner_text("main")
        shot_in(page, name, lang, phone)

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    def test_the_distribution_stands_apart_from_the_reps(
        self, server: Server, open_page: Any, lang: str, phone: bool
    ) -> None:
        """Team's attainment distribution card touched the reps' table above it
        (8 px, the table's own margin, on a desktop; 0 on a phone, the last
        rep's card against it): it stands a heading's space (24 px) apart."""
        page = open_page(server.link("mgr-zhao", "manager"), "/app/team", lang=lang, phone=phone)
        above = page.locator('section[aria-labelledby="team-h"]').bounding_box()
        card = page.locator('section[aria-labelledby="tdist-h"]').bounding_box()
        heading = page.locator("#tdist-h").bounding_box()
        assert card["y"] - (above["y"] + above["height"]) >= 20
        assert heading["y"] - card["y"] <= 20  # its heading at the top of its frame

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    def test_a_red_line_case_reads_whole(
        self, server: Server, open_page: Any, lang: str, phone: bool
    ) -> None:
        """CASE-201's amount with its currency, and each word of its evidence
        and each date on one line: the browser broke "expense-report ER-5531"
        after each hyphen ("expense-" / "report ER-" / "5531") in the desktop's
        narrow column, and a phone's card "2026-12-" / "05"; and a column head
        in Chinese is broken between words only (证据, not 证 / 据)."""
        page = open_page(
            server.link("cmp-head", "compliance"),
            "/app/reps/rep-chen/history",
            lang=lang,
            phone=phone,
        )
        row = page.locator("tbody tr", has_text="CASE-201")
        assert "3,200.00 CNY" in row.locator("td.num").inner_text()
        words = row.locator(".kept, .date")
        assert words.count() >= 10  # the case id, the code, the evidence's words, the dates
        for word in words.all():
            assert word.evaluate("e => e.getClientRects().length") == 1, word.inner_text()
        if phone:
            return
        page.goto(f"{server.base}/app/reps/rep-wang/history")  # no evidence, no amount
        for head in page.locator("thead th").all():  # narrow, yet no word broken
            lines = head.evaluate(_LINES_JS)
            assert lines <= len(head.inner_text().replace("（", " （").split()), head.inner_text()

    def test_a_quiet_month_on_team(self, server: Server, open_page: Any) -> None:
        """October 2026, in which the demo's inside team recorded nothing, is
        offered on lead He's Team and lists both reps, as the period summary
        and a payout run of October do."""
        page = open_page(server.link("lead-he", "manager"), "/app/team", lang="en")
        page.select_option("#period", "2026-10")
        page.click("form.inline button[type=submit]")
        page.wait_for_url(lambda url: url.endswith("period=2026-10"))
        table = page.inner_text("#team-h + *")
        assert "rep-sun" in table
        assert "rep-xu" in table
        shot_in(page, "team-quiet-month", "en")

    def test_a_quiet_month_on_the_overview(self, server: Server, open_page: Any) -> None:
        """October 2026, in which the demo's inside team recorded nothing, is
        offered on finance's Overview as on Team and Payouts, its three reps
        counted (none with a target) as the period summary lists them; the
        payouts by team say they are not in their sums and link the summary."""
        page = open_page(server.link("fin-amy", "finance"), "/app/overview", lang="en")
        page.select_option("#period", "2026-10")
        page.click("form.inline button[type=submit]")
        page.wait_for_url(lambda url: url.endswith("period=2026-10"))
        assert page.get_by_role("heading", level=1).inner_text().endswith("2026-10")
        counts = page.inner_text('section[aria-labelledby="dist-h"] table')
        assert counts.splitlines()[-1].split() == ["no", "target", "3"]
        payouts = page.locator('section[aria-labelledby="payouts-h"]')
        assert "2026-10: 3 reps with nothing recorded in it" in payouts.inner_text()
        shot_in(page, "overview-quiet-month", "en")

    def test_a_pending_item_of_a_paid_period(self, server: Server, open_page: Any) -> None:
        """rep-wang's paid 2026-Q3 lists the target change still waiting, and
        says that approving it now books a correction in a later period."""
        link = server.link("fin-amy", "finance")
        page = open_page(link, "/app/reps/rep-wang/statements/2026-Q3", lang="en")
        pending = page.inner_text("section:has(#pending-h)")
        assert "T-WANG-Q3-B" in pending
        assert "correction line in the rep's first unpaid period" in pending
        shot_in(page, "statement-paid-pending", "en")


class TestBola:
    @pytest.mark.parametrize(
        "path",
        [
            "/app/reps/rep-chen/pay",
            "/app/reps/rep-chen/statements/2026-Q3",
            "/app/reps/rep-wang/statements/2026-Q3?line=0",
            "/app/reps/rep-chen/statements/2026-Q3?lang=zh-CN",
        ],
    )
    def test_a_rep_cannot_open_another_reps_page(
        self, server: Server, open_context: Any, path: str
    ) -> None:
        context, watch = open_context()
        watch.allowed = {404}
        page = sign_in(context, server.link("rep-li", "rep", "rep-li"))
        answer = page.goto(server.base + path)
        assert answer is not None
        assert answer.status == 404
        lang = "zh-CN" if "zh-CN" in path else "en"
        assert WORDS[lang]["error_404"] in page.inner_text("main")
        assert "1,800.00" not in page.content()  # rep-chen's Q3 payable


class TestWithoutScripts:
    @pytest.mark.parametrize(
        ("who", "path", "expected"),
        [
            (("rep-li", "rep", "rep-li"), "/app/reps/rep-li/pay", "33,100.00"),
            (("rep-li", "rep", "rep-li"), "/app/reps/rep-li/statements/2026-Q3", "16,600.00"),
            (("fin-amy", "finance", None), "/app/overview", "55,350.00"),
        ],
    )
    def test_pages_read_with_javascript_off(
        self,
        server: Server,
        open_page: Any,
        who: tuple[str, str, str | None],
        path: str,
        expected: str,
    ) -> None:
        """Every figure is in the HTML; lines unfold with <details>, no script."""
        page = open_page(server.link(*who), path, scripts=False)
        assert expected in page.inner_text("main")
        if "statements" in path:
            page.locator("details").first.locator("summary").click()
            assert "S-1001" in page.locator("details").first.inner_text()
        assert page.locator("div.chart").count() == 0  # no chart: the tables carry it


class TestDispute:
    @pytest.mark.parametrize("lang", LOCALES)
    def test_dispute_a_line_from_the_statement(
        self, server: Server, open_page: Any, lang: str
    ) -> None:
        """Unfold a line, write what is wrong, confirm: one DisputeRaised by the rep
        on the run that paid the period, listed on My pay."""
        link = server.link("rep-li", "rep", "rep-li")
        page = open_page(link, "/app/reps/rep-li/statements/2026-Q3", lang=lang)
        w = WORDS[lang]
        line = page.locator("details").nth(1)
        line.locator("summary").click()
        message = f"S-1002 was mine ({lang})"
        line.get_by_label(w["dispute_message"]).fill(message)
        line.get_by_role("button", name=w["dispute_line"]).click()
        page.wait_for_url(re.compile(r".*/dispute$"))
        assert page.get_by_role("heading", level=1).inner_text() == w["confirm_title"]
        assert server.demo.run_id in page.inner_text("main")
        shot_in(page, "dispute-confirm", lang)
        page.get_by_role("button", name=w["confirm_yes"]).click()
        note = wait_for_note(page, "dispute_raised", lang=lang)
        assert page.url.endswith("/app/reps/rep-li/statements/2026-Q3")
        found = re.search(r"DSP-[0-9a-f]{12}", note)
        assert found is not None
        dispute_id = found.group(0)
        recorded = [
            r
            for r in server.ledger.iter_log()
            if r.type == "DisputeRaised" and r.data["dispute_id"] == dispute_id
        ]
        assert len(recorded) == 1
        assert recorded[0].actor == "rep-li"
        assert recorded[0].data["run_id"] == server.demo.run_id
        assert message in recorded[0].data["message"]
        page.goto(f"{server.base}/app/reps/rep-li/pay")
        assert dispute_id in page.inner_text("main")


class TestDocs:
    def test_docs_work_offline(self, server: Server, open_context: Any) -> None:
        """Swagger UI renders from this server's assets, with nothing fetched elsewhere."""
        context, _ = open_context()
        page = context.new_page()
        page.goto(f"{server.base}/docs")
        page.wait_for_selector(".swagger-ui .info", timeout=30_000)
        assert "Incentive ledger" in page.inner_text(".swagger-ui .info")


class TestPayouts:
    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
    def test_payouts_page(self, server: Server, open_page: Any, lang: str, phone: bool) -> None:
        """Finance's queues in both languages, at both widths."""
        page = open_page(server.link("fin-amy", "finance"), "/app/payouts", lang=lang, phone=phone)
        w = WORDS[lang]
        assert page.get_by_role("heading", level=1).inner_text() == w["payouts_title"]
        assert server.demo.run_id in page.inner_text("main")
        shot_in(page, "payouts", lang, phone)

    def test_a_run_approved_and_paid_by_two_people(
        self, server: Server, open_context: Any, open_page: Any
    ) -> None:
        """fin-amy calculates 2026-Q4, fin-bob approves, fin-amy pays: each step
        through its confirmation page."""
        w = WORDS["en"]
        amy, _ = open_context()
        page = sign_in(amy, server.link("fin-amy", "finance"))
        page.goto(f"{server.base}/app/payouts")
        page.get_by_role("textbox", name=w["period"]).fill("2026-Q4")
        page.get_by_role("button", name=w["calculate"]).click()
        assert "2026-Q4" in page.inner_text("main")
        _shot(page, "payouts-confirm-en-desktop")
        page.get_by_role("button", name=w["confirm_calculate"]).click()
        wait_for_note(page, "done_calculate")
        run_id = next(
            r.data["run_id"]
            for r in server.ledger.iter_log()
            if r.type == "PayoutCalculated" and r.data["period"] == "2026-Q4"
        )
        bob = open_page(server.link("fin-bob", "finance"), "/app/payouts")
        approve_in_queue(bob, run_id)
        page = amy.pages[0]
        page.goto(f"{server.base}/app/payouts")
        page.get_by_role("button", name=f"{w['action_pay']} {run_id}", exact=True).click()
        page.get_by_role("button", name=w["confirm_pay"]).click()
        wait_for_note(page, "done_pay", run_id)
        decided = {
            r.type: r.actor
            for r in server.ledger.iter_log()
            if r.data.get("subject_id") == run_id or r.data.get("run_id") == run_id
        }
        assert decided == {
            "PayoutCalculated": "fin-amy",
            "ApprovalGranted": "fin-bob",
            "PayoutPaid": "fin-amy",
        }

    def test_a_case_rejected_saying_why(self, server: Server, open_page: Any) -> None:
        """Compliance rejects a red-line case: the confirmation asks why (a note
        is required: confirming without one keeps the page and says so), and
        the rejection is recorded with it. Before, no page had a note field,
        and every rejection ended on an error page."""
        w = WORDS["en"]
        line = (
            '{"type": "ViolationRecorded", "occurred_at": "2026-11-03T10:00:00+08:00", '
            '"actor": "cmp-sun", "case_id": "CASE-B-REJ", "rep_id": "rep-wang", '
            '"code": "leak", "severity": "red_line", "description": "price list shared"}'
        )
        server.ledger.import_lines([line], actor="cmp-sun")
        page = open_page(server.link("cmp-head", "compliance"), "/app/cases")
        page.get_by_role("button", name=f"{w['action_reject']} CASE-B-REJ", exact=True).click()
        note = page.get_by_label(w["reject_note"])
        assert note.is_visible()
        note.fill("   ")
        page.get_by_role("button", name=w["confirm_reject"]).click()
        assert w["reject_note_missing"] in page.inner_text("main")
        page.get_by_label(w["reject_note"]).fill("the evidence names another rep")
        _shot(page, "reject-confirm-en-desktop")
        page.get_by_role("button", name=w["confirm_reject"]).click()
        wait_for_note(page, "done_reject", "CASE-B-REJ")
        rejected = [
            (r.actor, r.data.get("note"))
            for r in server.ledger.iter_log()
            if r.type == "ApprovalRejected" and r.data["subject_id"] == "CASE-B-REJ"
        ]
        assert rejected == [("cmp-head", "the evidence names another rep")]

    def test_dispute_resolved_and_adjustment_approved(self, server: Server, open_page: Any) -> None:
        """fin-amy upholds the demo's dispute; the adjustment it books waits in the
        queue until fin-bob approves it."""
        w = WORDS["en"]
        page = open_page(server.link("fin-amy", "finance"), "/app/payouts")
        # The demo's dispute by its whole id: another test's dispute id is random hex
        # and may begin "DSP-401…" too.
        card = page.locator("article", has_text=re.compile(r"\bDSP-401\b"))
        card.get_by_label(w["outcome_upheld"], exact=True).check()
        card.get_by_label(w["amount_upheld"]).fill("700.00")
        card.get_by_label(w["note"]).fill("the split was 70/30")
        card.get_by_role("button", name=w["resolve"]).click()
        assert "700.00" in page.inner_text("main")
        page.get_by_role("button", name=w["confirm_resolve"]).click()
        wait_for_note(page, "done_resolve", "DSP-401")
        bob = open_page(server.link("fin-bob", "finance"), "/app/payouts")
        approve_in_queue(bob, "ADJ-DSP-401")
        granted = [
            r.actor
            for r in server.ledger.iter_log()
            if r.type == "ApprovalGranted" and r.data["subject_id"] == "ADJ-DSP-401"
        ]
        assert granted == ["fin-bob"]


# Cells whose text aligns otherwise than their column's head (a date right-aligned
# under a head on the left): "head: its alignment vs the cell's".
_MISALIGNED_JS = """() => {
  const side = a => (a === 'start' || a === 'left') ? 'left' : (a === 'end' ? 'right' : a);
  const out = new Set();
  for (const table of document.querySelectorAll('main table')) {
    const heads = [...table.querySelectorAll('thead tr:first-child th')];
    for (const row of table.querySelectorAll('tbody tr')) {
      if (row.children.length !== heads.length) continue;
      [...row.children].forEach((cell, i) => {
        const [a, b] = [heads[i], cell].map(e => side(getComputedStyle(e).textAlign));
        if (a !== b && cell.textContent.trim()) out.add(`${heads[i].textContent.trim()}: ${a} vs ${b}`);
      });
    }
  }
  return [...out];
}"""
# Elements inside a card (Overview's, or a figure's tile in it) that reach past
# its right edge (a sideways-scrolling table's contents aside: it scrolls
# within the card).
_OUT_OF_CARD_JS = """() => [...document.querySelectorAll('main .card, main dl.summary > div')]
  .flatMap(card => {
  const edge = card.getBoundingClientRect().right;
  return [...card.querySelectorAll('*')]
    .filter(e => !e.parentElement.closest('.scroll'))
    .filter(e => e.getBoundingClientRect().right > edge + 1)
    .map(e => e.tagName + ' ' + e.textContent.trim().slice(0, 40));
})"""


class TestLayout:
    @pytest.mark.parametrize(
        ("who", "path"),
        [
            (("rep-li", "rep", "rep-li"), "/app/reps/rep-li/statements/2026-Q3"),
            (("cmp-head", "compliance", None), "/app/cases"),
        ],
    )
    def test_column_heads_align_with_their_cells(
        self, server: Server, open_page: Any, who: tuple[str, str, str | None], path: str
    ) -> None:
        """The dates of a line's events and of Cases sat right-aligned under
        heads on the left; every cell now lines up with its column's head."""
        page = open_page(server.link(*who), path)
        for line in page.locator("details").all():
            line.locator("summary").click()
        assert page.evaluate(_MISALIGNED_JS) == []

    @pytest.mark.parametrize("lang", LOCALES)
    def test_the_events_behind_a_line_read_on_a_phone(
        self, server: Server, open_page: Any, lang: str
    ) -> None:
        """The events behind a statement line scrolled sideways on a phone, who
        recorded and approved each and when cut off at the screen's edge with
        nothing to say so; each event is a card now, every cell in it."""
        page = open_page(
            server.link("rep-li", "rep", "rep-li"), STATEMENT_PATH, lang=lang, phone=True
        )
        for line in page.locator("details").all():
            line.locator("summary").click()
        tables = page.locator("details .scroll")
        assert tables.count() > 0
        for table in tables.all():
            wide = table.evaluate("e => e.scrollWidth - e.clientWidth")
            assert wide <= 1, f"the events scroll {wide} px sideways"
        approved = page.locator("details tbody tr", has_text="AdjustmentRequested")
        assert "fin-" in approved.first.inner_text()

    @pytest.mark.parametrize("width", [375, 390, 430])
    def test_overview_cards_hold_their_contents_on_a_phone(
        self, server: Server, open_page: Any, width: int
    ) -> None:
        """On a 390 px phone (two tiles a row) the audit chain's badge
        ("intact to position 67") ran past its tile's border; nothing in a
        card or a tile reaches past it now, at any phone's width."""
        page = open_page(server.link("fin-amy", "finance"), "/app/overview", phone=True)
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        page.reload()
        page.wait_for_selector("div.chart canvas")
        assert page.evaluate(_OUT_OF_CARD_JS) == []

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize("width", [375, 390, 430])
    def test_overview_payouts_by_team_read_on_a_phone(
        self, server: Server, open_page: Any, width: int, lang: str
    ) -> None:
        """Payouts by team and period scrolled sideways on a phone, its payable
        and currency out of sight; each row is a card now, as the queues' rows
        are (`data_table`'s ``stack``): nothing of it scrolls, every figure is
        in the card with its column's label, and a desktop keeps the table."""
        page = open_page(server.link("fin-amy", "finance"), "/app/overview", lang=lang, phone=True)
        page.set_viewport_size({"width": width, "height": PHONE["height"]})
        page.reload()
        section = page.locator('section[aria-labelledby="payouts-h"]')
        wide = section.locator(".scroll").evaluate("e => e.scrollWidth - e.clientWidth")
        assert wide <= 1, f"the table scrolls {wide} px sideways"
        edge = section.evaluate("e => e.getBoundingClientRect().right")
        cells = section.locator("tbody th, tbody td")
        assert cells.count() > 0
        for cell in cells.all():
            assert cell.evaluate("e => e.getBoundingClientRect().right") <= edge + 1
        east = section.locator("tbody tr", has_text="55,350.00")
        label = section.locator("thead th").nth(3).inner_text()
        payable = east.locator("td.num").nth(1)
        after = "：" if lang == "zh-CN" else ": "
        assert payable.evaluate("e => getComputedStyle(e, '::before').content").startswith(
            f'"{label}{after}"'
        )
        page.set_viewport_size(DESKTOP)
        assert section.locator("thead").evaluate("e => getComputedStyle(e).position") != "absolute"


LONG_REP = "rep-" + "verylongname" * 10 + "xxxx"  # 128 characters, the most an id has
_WIDE_JS = """() => [...document.querySelectorAll('main *')]
  .filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > innerWidth + 1)
  .slice(0, 5).map(e => e.tagName + ' ' + e.textContent.slice(0, 60))"""


@pytest.fixture(scope="module")
def long_rep(server: Server) -> str:
    """A rep with a 128-character id and team, a sale of 123,456,789.00 and a
    case with long unbroken text (asked for by `TestNarrowScreen` only, the
    file's last tests: no earlier page or screenshot shows them)."""
    lines = [
        enrol(
            LONG_REP,
            at="2026-10-01T09:00:00+08:00",
            team="team-" + "eastchinaregion" * 8 + "abc",
            manager_id="mgr-zhao",
        ),
        sale("S-NARROW-1", LONG_REP, "123456789.00", at="2026-11-02T10:00:00+08:00"),
        event_line(
            "ViolationRecorded",
            at="2026-11-03T10:00:00+08:00",
            actor="mgr-zhao",
            case_id="CASE-NARROW",
            rep_id=LONG_REP,
            code="c" * 128,
            severity="minor",
            description="虚假报销" * 100 + "A" * 300,
        ),
    ]
    server.ledger.import_lines(jsonl(*lines), actor="hr-sync")
    return LONG_REP


class TestNarrowScreen:
    """At 375 px nothing is wider than the screen: a 128-character id in a
    heading or a history entry, a nine-digit payable with its currency, the
    estimator's form. (Last in this file: its rep and case join the shared
    database after the other pages' screenshots.)"""

    @staticmethod
    def fits(page: Any, shot: str) -> None:
        """No element outside a sideways-scrolling table reaches past the screen;
        then its screenshot, ``shot``."""
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        wide = page.evaluate(_WIDE_JS)
        assert width[0] <= width[1], f"{width[0]} px wide on a {width[1]} px screen: {wide}"
        _shot(page, shot)

    @pytest.mark.parametrize("lang", LOCALES)
    def test_long_ids_wrap(self, server: Server, open_page: Any, long_rep: str, lang: str) -> None:
        page = open_page(
            server.link("cmp-head", "compliance"),
            f"/app/reps/{long_rep}/history",
            lang=lang,
            phone=True,
        )
        assert long_rep in page.inner_text("h1")
        assert page.locator("table.stack tbody tr").count() >= 1
        self.fits(page, f"history-long-id-{lang}-phone")

    @pytest.mark.parametrize("lang", LOCALES)
    def test_a_large_payable_fits_its_card(
        self, server: Server, open_page: Any, long_rep: str, lang: str
    ) -> None:
        page = open_page(
            server.link(long_rep, "rep", long_rep),
            f"/app/reps/{long_rep}/statements/2026-Q4",
            lang=lang,
            phone=True,
        )
        card = page.locator("dl.summary > div.payable")
        assert "CNY" in card.inner_text()
        overflow = card.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert overflow[0] <= overflow[1], overflow
        self.fits(page, f"statement-large-payable-{lang}-phone")

    @pytest.mark.parametrize("lang", LOCALES)
    def test_the_estimator_stacks_its_labels(
        self, server: Server, open_page: Any, long_rep: str, lang: str
    ) -> None:
        """Each label of the estimator above its field (they were jumbled in
        one line at 375 px), its answer no wider than the screen."""
        page = open_page(
            server.link(long_rep, "rep", long_rep),
            f"/app/reps/{long_rep}/pay",
            lang=lang,
            phone=True,
        )
        for name in ("est-amount", "est-category", "est-date"):
            label = page.locator(f'label[for="{name}"]').bounding_box()
            box = page.locator(f"#{name}").bounding_box()
            assert label["y"] + label["height"] <= box["y"], name
            assert box["width"] >= 300, name  # the form is the screen wide
        page.fill("#est-amount", "12,345,678.90")
        page.locator("form.estimate button").click()
        page.wait_for_url(re.compile(r".*/estimate$"))
        self.fits(page, f"estimate-{lang}-phone")


class TestWideScreen:
    """After `TestNarrowScreen`: its run joins the shared database last."""

    def test_a_long_case_code_breaks_in_its_cell(
        self, server: Server, open_page: Any, long_rep: str
    ) -> None:
        """The 128-character code of CASE-NARROW was kept on one line and pushed
        the history's table sideways on a 1280 px screen; it breaks in its cell
        now, and the table fits."""
        page = open_page(server.link("cmp-head", "compliance"), f"/app/reps/{long_rep}/history")
        table = page.locator("main .scroll")
        wide = table.evaluate("e => e.scrollWidth - e.clientWidth")
        assert wide <= 1, f"the history scrolls {wide} px sideways"
        shot_in(page, "history-long-id", "en")

    def test_the_decisions_fit_a_desktop_table(self, server: Server, open_page: Any) -> None:
        """fin-amy's own run carries a note, not buttons ("recorded by you:
        another must decide"); unwrapped, it pushed the runs table past a
        1280 px screen's page, its other rows' buttons out of sight. Every
        table of Payouts fits its width on a desktop."""
        w = WORDS["en"]
        page = open_page(server.link("fin-amy", "finance"), "/app/payouts")
        page.get_by_role("textbox", name=w["period"]).fill("2026-06")
        page.get_by_role("button", name=w["calculate"]).click()
        page.get_by_role("button", name=w["confirm_calculate"]).click()
        wait_for_note(page, "done_calculate")
        assert w["not_yours_to_decide"] in page.inner_text("main")
        wide = page.evaluate(
            """() => [...document.querySelectorAll('main .scroll')]
              .filter(d => d.scrollWidth > d.clientWidth)
              .map(d => d.querySelector('thead').innerText.replace(/\\s+/g, ' '))"""
        )
        assert wide == []


# What a 390 px phone cannot reach without scrolling sideways: every button of
# main, and every cell of a queue's table, whose box lies past the screen's
# right edge (or the page itself being wider than the screen).
_OUT_OF_REACH_JS = """() => {
  const out = [...document.querySelectorAll('main button, main table.stack td')]
    .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
    .map(e => e.tagName + ' ' + e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40));
  const wide = document.documentElement.scrollWidth;
  return wide > innerWidth ? [`page ${wide} px wide`, ...out] : out;
}"""
PHONE_390 = {"width": 390, "height": 844}
_BOXES = "elements => elements.map(e => e.getBoundingClientRect().toJSON())"


@pytest.fixture(scope="module")
def waiting_on_phones(server: Server) -> None:
    """An adjustment fin-amy requested (fin-bob decides it) and a red-line
    case cmp-sun recorded (cmp-head decides it), both with long text."""
    lines = [
        event_line(
            "AdjustmentRequested",
            actor="fin-amy",
            at="2026-12-01T10:00:00+08:00",
            adjustment_id="ADJ-PHONE-1",
            rep_id="rep-chen",
            period="2026-Q4",
            amount="-12345678.90",
            reason="recover the overpaid spiff of the October push " * 3,
        ),
        event_line(
            "ViolationRecorded",
            actor="cmp-sun",
            at="2026-11-04T10:00:00+08:00",
            case_id="CASE-PHONE-1",
            rep_id="rep-wang",
            code="leak",
            severity="red_line",
            description="shared the price list with a competitor's account manager",
        ),
    ]
    server.ledger.import_lines(jsonl(*lines[:1]), actor="fin-amy")
    server.ledger.import_lines(jsonl(*lines[1:]), actor="cmp-sun")


class TestPhoneQueues:
    """At 390 px a queue's approve and reject buttons, and its amounts,
    payables and messages, sat past the screen's edge in a table scrolled
    sideways, with nothing to say it scrolls. Each queue row is a card on a
    phone now (a desktop keeps the table): everything in reach, each value
    after its column's label, still a table to a screen reader."""

    @pytest.mark.parametrize("lang", LOCALES)
    @pytest.mark.parametrize(
        ("who", "path", "decides"),
        [
            (("fin-bob", "finance", None), "/app/payouts", "ADJ-PHONE-1"),
            (("cmp-head", "compliance", None), "/app/cases", "CASE-PHONE-1"),
            (("mgr-zhao", "manager", None), "/app/team", None),
            (("rep-li", "rep", "rep-li"), "/app/reps/rep-li/pay", None),
        ],
    )
    def test_a_queue_is_in_reach_on_a_phone(
        self,
        *,
        server: Server,
        open_context: Any,
        waiting_on_phones: None,
        lang: str,
        who: tuple[str, str, str | None],
        path: str,
        decides: str | None,
    ) -> None:
        context, _ = open_context(phone=True)
        page = sign_in(context, server.link(*who))
        page.set_viewport_size(PHONE_390)
        page.goto(f"{server.base}{path}?lang={lang}")
        assert page.locator("main table.stack tbody tr").count() > 0
        assert page.evaluate(_OUT_OF_REACH_JS) == []
        w = WORDS[lang]
        if decides is not None:
            for action in ("approve", "reject"):
                button = page.get_by_role("button", name=f"{w['action_' + action]} {decides}")
                assert button.is_visible()
            # a table still: the queue's amount is a cell under its column's head
            queue = page.get_by_role("table").filter(has_text=decides).first
            assert queue.get_by_role("columnheader", name=w["amount"], exact=True).count() == 1
            row = queue.get_by_role("row").filter(has_text=decides)
            assert row.get_by_role("cell").filter(has=page.locator(".rep-name")).count() == 1
        heads = page.locator("main table.stack thead")
        assert {round(box["height"]) for box in heads.evaluate_all(_BOXES)} == {
            1
        }  # heard, not seen
        page.set_viewport_size(DESKTOP)  # the desktop keeps the table, its heads in sight
        assert min(box["height"] for box in heads.evaluate_all(_BOXES)) > 20
