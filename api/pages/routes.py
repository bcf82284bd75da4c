"""The page handlers under ``/app`` (SPEC §5.1): sign-in and sign-out, My pay,
a statement with its lines explained, a dispute raised from a line, Overview.

Each handler applies the API's role table and rep scope (`api.auth`) before
reading anything, so a page never shows what the API would refuse, and a rep
asking for another rep's page gets the same 404 the API gives. Writes go
through the API's own handlers (`api.routes.disputes.post_dispute`), with
their checks.
"""

from __future__ import annotations

import re
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from api.auth import (
    ROUTE_ROLES,
    ForbiddenError,
    check_rep_scope,
    is_caller,
    own_rep,
    paid_reader,
    require_role,
    trail_events_shown,
)
from api.pages import views
from api.pages.i18n import LANG_COOKIE, RepNames, choose_locale, money, ratio, term, words
from api.pages.session import (
    FLASH_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    SigninCodes,
    csrf_token,
    csrf_valid,
    flash_read,
    flash_value,
)
from api.routes.disputes import post_dispute
from api.routes.queues import viewer_of
from api.schemas import DisputeIn
from api.tokens import Principal, TokenError, TokenStore
from ledger.application import Ledger
from ledger.errors import (
    AlreadyDecidedError,
    BatchRejectedError,
    BrokenChainError,
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    SelfApprovalError,
    TamperedStatementError,
)
from policies.money import ungrouped
from policies.wording import LOCALES
from presentation.modelling import estimate_texts
from projections.service import Reports
from projections.whatif import EstimateSale, parse_day
from service import UseCases

__all__ = [
    "Page",
    "audit_read",
    "check_csrf",
    "noted_redirect",
    "page_of",
    "read_form",
    "router",
    "same_origin",
    "secure_cookie",
    "serve",
    "typed_amount",
]

router = APIRouter(prefix="/app", include_in_schema=False)
audit = structlog.get_logger("audit")

_TEMPLATES: Final = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_TEMPLATES.filters["money"] = money
_TEMPLATES.filters["ratio"] = ratio
_TEMPLATES.filters["moment"] = views.local_moment
# A word of at most this many columns (a wide character two) is kept whole in a
# table cell: on a phone's card it still fits a line.
_KEPT_COLUMNS: Final = 24


def kept_words(text: str) -> Markup:
    """``text`` (an id, a code, a reference) as a table cell shows it: each word
    between its spaces of at most `_KEPT_COLUMNS` columns kept whole — a browser
    breaks a line after any hyphen, and a narrow column read "expense-" /
    "report ER-" / "5531" — and a longer one broken anywhere, rather than kept
    whole and the table pushed sideways (a 128-character case code)."""
    return Markup(" ").join(
        Markup('<span class="{}">{}</span>').format(
            "kept" if _columns(word) <= _KEPT_COLUMNS else "breakable", word
        )
        for word in text.split(" ")
    )


def _columns(word: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in {"W", "F"} else 1 for c in word)


_TEMPLATES.filters["kept"] = kept_words
_FORM_LIMIT: Final = 64 * 1024
_DISPUTE_ID: Final = re.compile(r"DSP-[0-9a-f]{12}")
# The one-shot notes a form's redirect may leave (`noted_redirect`): words keys.
NOTES: Final = frozenset(
    {
        "done_calculate",
        "done_approve",
        "done_reject",
        "done_pay",
        "done_resolve",
        "dispute_raised",
    }
)
_FLASH_SECONDS: Final = 300


class _SignInNeededError(Exception):
    """No (valid) session cookie."""


class _CsrfError(Exception):
    """A form without the session's token."""


@dataclass(frozen=True)
class Page:
    """What every handler knows about the request."""

    request: Request
    locale: str
    principal: Principal | None

    @property
    def who(self) -> Principal:
        if self.principal is None:
            raise _SignInNeededError
        return self.principal

    @property
    def ledger(self) -> Ledger:
        ledger: Ledger = self.request.app.state.ledger
        return ledger

    @property
    def reports(self) -> Reports:
        reports: Reports = self.request.app.state.reports
        return reports

    @property
    def use_cases(self) -> UseCases:
        """The decisions, as the API's routes make them."""
        return UseCases(self.ledger, self.reports)

    def _switch_base(self) -> tuple[str, dict[str, str]]:
        """Where the language switch leads: this page — or, for the answer to a
        form (a confirmation, an estimate), the page the form was on, since the
        form's own address takes only a POST (its link answered 405)."""
        if self.request.method == "GET":
            query = {k: v for k, v in self.request.query_params.items() if k != "lang"}
            return self.request.url.path, query
        return form_page(self.request.url.path), {}

    def _note(self) -> tuple[str, str] | None:
        """The one-shot note a form's redirect left for this page (`noted_redirect`),
        when this session's flash cookie carries one for it."""
        value = self.request.cookies.get(FLASH_COOKIE)
        if value is None or self.principal is None or self.request.method != "GET":
            return None
        secret: bytes = self.request.app.state.page_secret
        note = flash_read(secret, self.principal, self.request.url.path, value)
        return note if note is not None and note[0] in NOTES else None

    def render(
        self, template: str, status: int = 200, *, reps: Iterable[str] = (), **values: Any
    ) -> HTMLResponse:
        """The page ``template`` in this request's locale, with the note a form's
        redirect left for it (``note``: shown once, its cookie then cleared) and
        the names of the reps it shows (``reps``: their ids, in the caller's
        scope; read once, `named` in the template: "Li Wei (rep-li)")."""
        w = words(self.locale)
        own = own_rep(self.principal, self.reports) if self.principal else None
        wanted = {*reps, own} if own is not None else set(reps)
        names = self.reports.rep_names(wanted) if wanted else {}
        named = RepNames(names, self.locale)
        # who is signed in: a rep (or a manager paid too) by name, "Li Wei
        # (rep-li)", as the pages name reps; anyone else by their actor
        signed_in: str | Markup = self.principal.actor if self.principal else ""
        if own is not None and own in names:
            signed_in = named(own)
        secret: bytes = self.request.app.state.page_secret
        path, query = self._switch_base()
        switch = {
            code: path + "?" + urllib.parse.urlencode({**query, "lang": code}) for code in LOCALES
        }
        html = _TEMPLATES.get_template(template).render(
            w=w,
            locale=self.locale,
            # the words escaped, then what is put in them (a rep's name as
            # `named` marks it up is kept whole; any other text escaped)
            t=lambda key, **kw: escape(w[key]).format(**kw),
            term=lambda value: term(self.locale, value),
            principal=self.principal,
            own_pay=own,
            signed_in=signed_in,
            # maker-checker as the ledger decides it (another spelling is the same person)
            is_me=lambda actor: self.principal is not None and is_caller(self.principal, actor),
            csrf=csrf_token(secret, self.principal) if self.principal else "",
            switch=switch,
            note=self._note(),
            named=named,
            **values,
        )
        response = HTMLResponse(html, status_code=status)
        if FLASH_COOKIE in self.request.cookies and self.request.method == "GET":
            response.delete_cookie(
                FLASH_COOKIE,
                path="/app",
                httponly=True,
                samesite="strict",
                secure=secure_cookie(self.request),
            )
        chosen = self.request.query_params.get("lang")
        if chosen in LOCALES:
            response.set_cookie(
                LANG_COOKIE,
                str(chosen),
                max_age=365 * 86400,
                httponly=True,
                samesite="strict",
                secure=secure_cookie(self.request),
            )
        return response


def secure_cookie(request: Request) -> bool:
    """Whether a cookie set in answer to ``request`` is Secure: when it came over
    https, and on every answer with ``LEDGER_SECURE_COOKIES`` — behind a TLS
    proxy the server does not trust for X-Forwarded-Proto (one in another
    container: uvicorn trusts 127.0.0.1 only) a request looks like plain http,
    and the session cookie went out without Secure, sent along with any plain
    http request a browser made to the host."""
    forced: bool = request.app.state.secure_cookies
    return forced or request.url.scheme == "https"


def noted_redirect(page: Page, to: str, key: str, subject: str) -> RedirectResponse:
    """A form's answer: 303 to the page ``to``, which then says once what was
    done (the note ``key`` about ``subject``). The note travels in a cookie
    signed for this session and page, never in the URL: a link anyone can write
    (``?done=pay:RUN-X``) made a page claim what never happened."""
    assert key in NOTES, key
    secret: bytes = page.request.app.state.page_secret
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        FLASH_COOKIE,
        flash_value(secret, page.who, urllib.parse.urlsplit(to).path, key, subject),
        max_age=_FLASH_SECONDS,
        path="/app",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(page.request),
    )
    return response


# A form's address (it takes a POST only) -> the page the form is on.
_FORM_PAGES = (
    (re.compile(r"^(/app/reps/[^/]+)/estimate$"), r"\1/pay"),
    (re.compile(r"^(/app/reps/[^/]+/statements/[^/]+)/dispute$"), r"\1"),
    (re.compile(r"^(/app/(?:payouts|cases))/act$"), r"\1"),
)


def form_page(path: str) -> str:
    """The page a form posted to ``path`` is on (``/app`` for any other)."""
    for pattern, page in _FORM_PAGES:
        if pattern.match(path):
            return pattern.sub(page, path)
    return "/app"


def page_of(request: Request) -> Page:
    principal = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        tokens: TokenStore = request.app.state.tokens
        try:
            principal = tokens.check(token)
        except TokenError:
            principal = None
        else:
            request.state.principal = principal
    return Page(request, choose_locale(request), principal)


def serve(page: Page, build: Callable[[Page], Response]) -> Response:
    """``build``'s page, or the error page that says why not."""
    try:
        return build(page)
    except _SignInNeededError:
        return page.render("error.html", 401, message=words(page.locale)["error_signin"])
    except _CsrfError:
        return page.render("error.html", 403, message=words(page.locale)["error_csrf"])
    except ForbiddenError:
        return page.render("error.html", 403, message=words(page.locale)["error_403"])
    except NotFoundError:
        return page.render("error.html", 404, message=words(page.locale)["error_404"])
    except LedgerError as exc:
        status = 409 if isinstance(exc, ConflictError | BatchRejectedError) else 422
        w = words(page.locale)
        return page.render("error.html", status, message=w[refusal_word(exc)], detail=str(exc))


def refusal_word(exc: LedgerError) -> str:
    """The key of the page's own words for what kind of refusal ``exc`` is: the
    ledger's reason (with its field and figures) is English, so the page says in
    its own language what happened and shows the reason beside it."""
    kind: type[LedgerError] = type(exc)
    if isinstance(exc, BatchRejectedError) and len(exc.errors) == 1:
        kind = exc.errors[0].kind or kind  # one input, refused by a rule
    for refusal, key in _REFUSALS:
        if issubclass(kind, refusal):
            return key
    return _BY_STATUS.get(exc.status, "refused_invalid")


_REFUSALS: Final[tuple[tuple[type[LedgerError], str], ...]] = (
    (SelfApprovalError, "refused_self_approval"),
    (AlreadyDecidedError, "refused_decided"),
    (BrokenChainError, "refused_chain"),
    (TamperedStatementError, "refused_tampered"),
)
_BY_STATUS: Final = {"conflict": "refused_conflict", "unavailable": "refused_unavailable"}


async def read_form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > _FORM_LIMIT:
        return {}
    parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    return {k: v[0] for k, v in parsed.items()}


def check_csrf(page: Page, form: dict[str, str]) -> None:
    if not csrf_valid(page.request.app.state.page_secret, page.who, form.get("csrf")):
        raise _CsrfError


async def serve_form(
    request: Request, build: Callable[[Page, dict[str, str]], Response]
) -> Response:
    """A form's post: the form read and its CSRF token checked, then ``build``'s
    page (in a worker thread: it reads and records), or the error page."""
    page = page_of(request)
    form = await read_form(request)

    def checked(page: Page) -> Response:
        check_csrf(page, form)
        return build(page, form)

    return await run_in_threadpool(serve, page, checked)


def audit_read(principal: Principal, rep_id: str, what: str) -> None:
    """As the API does: reads of another person's pay by finance or compliance
    are audit entries."""
    if principal.role in {"finance", "compliance"}:
        audit.info(
            "audit.read", actor=principal.actor, role=principal.role, rep_id=rep_id, what=what
        )


def check_rep_access(
    page: Page, rep_id: str, route: str, *, reads: str | None = None, period: str | None = None
) -> None:
    """As the API's ``route`` does: the caller's role may call it and ``rep_id``
    is in their scope (for ``period``, when the page shows one); a read
    (``reads``: of what) is audited (`audit_read`)."""
    require_role(page.who, route)
    check_rep_scope(page.who, rep_id, page.reports, period=period)
    if reads is not None:
        audit_read(page.who, rep_id, reads)


def _home_of(principal: Principal) -> str | None:
    if principal.role == "rep":
        return f"/app/reps/{urllib.parse.quote(str(principal.rep_id))}/pay"
    if principal.role in _OVERVIEW_ROLES:
        return "/app/overview"
    if principal.role == "manager":
        return "/app/team"
    return None


_OVERVIEW_ROLES: Final = frozenset({"finance", "compliance"})


# -- sign-in -------------------------------------------------------------------


@router.get("/signin/{code}")
def signin(code: str, request: Request) -> Response:
    """A one-time link opened: who it signs in as, and a button that posts the
    code from this page. The GET spends nothing: opened from another site (a
    webmail, a chat) the SameSite=Strict cookie set here would not come with the
    redirect, the user landing signed out with the link spent; a link scanner
    would spend it; and another site could sign a user in as someone else."""
    page = page_of(request)
    codes: SigninCodes = request.app.state.signin_codes
    found = codes.peek(code)
    if found is None:
        return page.render("signin_failed.html", 410)
    return page.render("signin.html", found=found, code=code)


@router.post("/signin")
async def signin_post(request: Request) -> Response:
    """Redeem a one-time code posted from this site's sign-in page: set the
    session cookie, then go to the user's page (the code out of the URL). A
    session this browser held is revoked: its cookie is replaced, and a copy
    of it (left on a shared computer, taken from a backup) stayed valid for
    the rest of its 12 hours with no one able to sign it out."""
    page = page_of(request)
    if not same_origin(request):
        return page.render("error.html", 403, message=words(page.locale)["error_cross_site"])
    form = await read_form(request)
    codes: SigninCodes = request.app.state.signin_codes
    found = await run_in_threadpool(codes.redeem, form.get("code", ""))
    if found is None:
        return page.render("signin_failed.html", 410)
    tokens: TokenStore = request.app.state.tokens
    if page.principal is not None:
        await run_in_threadpool(tokens.revoke, page.principal.token_id)
    token, _ = await run_in_threadpool(
        lambda: tokens.create(
            actor=found.actor,
            role=found.role,
            rep_id=found.rep_id,
            ttl=timedelta(hours=SESSION_HOURS),
        )
    )
    response = RedirectResponse("/app/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure_cookie(request),
    )
    return response


def same_origin(request: Request) -> bool:
    """Whether a post came from this site's own page: ``Sec-Fetch-Site`` says
    ``same-origin``, or (a browser without it) ``Origin`` names this host. A
    client that sends neither is no browser another site could drive: allowed."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host")
    return host is not None and urllib.parse.urlsplit(origin).netloc == host


@router.post("/signout")
async def signout(request: Request) -> Response:
    """Revoke the session's token and clear the cookie."""

    def build(page: Page, form: dict[str, str]) -> Response:
        del form  # it carries only the CSRF token, checked
        tokens: TokenStore = request.app.state.tokens
        tokens.revoke(page.who.token_id)
        response = RedirectResponse("/app/?signed_out=1", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure_cookie(request),
        )
        return response

    return await serve_form(request, build)


@router.get("/")
def home(request: Request) -> Response:
    """Where a signed-in user starts: their role's page."""
    page = page_of(request)
    if page.principal is not None:
        target = _home_of(page.principal)
        if target is not None:
            return RedirectResponse(target, status_code=303)
    return page.render("home.html", signed_out="signed_out" in request.query_params)


# -- My pay ----------------------------------------------------------------------


@router.get("/reps/{rep_id}/pay")
def pay(rep_id: str, request: Request) -> Response:
    """A rep's periods: payable and status, and their disputes."""

    def build(page: Page) -> Response:
        check_rep_access(page, rep_id, "get_statement", reads="periods")
        disputes = None
        if page.who.role in ROUTE_ROLES["get_disputes"]:
            disputes = page.reports.disputes(rep_id)
        return page.render(
            "pay.html",
            reps=[rep_id],
            rep_id=rep_id,
            periods=views.rep_periods(page.reports, rep_id, request.query_params.get("period")),
            disputes=disputes,
            may_estimate=page.who.role in ROUTE_ROLES["post_estimate"],
        )

    return serve(page_of(request), build)


@router.get("/reps/{rep_id}/statements/{period}")
def statement(rep_id: str, period: str, request: Request) -> Response:
    """A statement: the summary, each line unfolding into steps and events."""
    full_line = request.query_params.get("line")

    def build(page: Page) -> Response:
        check_rep_access(page, rep_id, "get_statement", reads="statement", period=period)
        # The statement in the ledger's own words (served from the read model);
        # only the steps shown are worded again in the page's language: a line
        # of 10,000 sales shows 25 of them.
        doc = page.reports.statement(rep_id, period)
        readable = trail_events_shown(page.who, rep_id, page.reports)  # as GET /events
        lines = []
        for index, line in enumerate(doc["lines"]):
            steps = line["explanation"]
            shown = steps
            if str(index) != full_line and len(steps) > views.STEPS_PER_LINE:
                shown = [*steps[: views.STEPS_PER_LINE - 1], steps[-1]]
            shown = [views.worded(step, page.locale) for step in shown]
            events, count = views.line_events(page.ledger, line.get("event_ids", []), readable)
            lines.append(
                {
                    "index": index,
                    "line": line,
                    "steps": shown,
                    "step_count": len(steps),
                    "events": events,
                    "event_count": count,
                }
            )
        may_dispute = doc.get("status") == "paid" and page.who.role in ROUTE_ROLES["post_dispute"]
        warnings = [views.worded_warning(w, page.locale) for w in doc.get("warnings", [])]
        # paid and now from every correction (the periods each later event's
        # went to); the events listed, and the period named, those the reader
        # may read (as the API) — and the side "now" only to a reader of every
        # event it rests on: it is the replay with those withheld in it
        compare = views.paid_vs_now(page.reports, rep_id, doc)
        paid = doc.get("status") == "paid"
        reader = paid_reader(page.who, rep_id, page.reports) if paid else None
        told = page.reports.paid_as_read(doc, reader) if reader is not None else None
        if told is not None:
            doc |= told
            if any(e.get("withheld") for e in doc.get("later_events") or []):
                compare = None
        return page.render(
            "statement.html",
            **_of_statement(rep_id, doc),
            warnings=warnings,
            lines=lines,
            ladder=views.tier_ladder(page.ledger, doc),
            compare=compare,
            may_dispute=may_dispute,
            lists_periods=_lists_periods(page, rep_id),
        )

    return serve(page_of(request), build)


def _lists_periods(page: Page, rep_id: str) -> bool:
    """Whether the reader may open the rep's periods (My pay): not a manager
    the rep left, who reads the periods they managed, one at a time — the
    page would be a 404."""
    try:
        check_rep_scope(page.who, rep_id, page.reports)
    except NotFoundError:
        return False
    return True


def _of_statement(rep_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """What a page about one of ``rep_id``'s statements (``doc``) is given:
    the rep it names, and the statement."""
    return {"reps": [rep_id], "rep_id": rep_id, "s": doc}


def _new_dispute_id() -> str:
    return f"DSP-{uuid.uuid4().hex[:12]}"


@router.post("/reps/{rep_id}/statements/{period}/dispute")
async def dispute(rep_id: str, period: str, request: Request) -> Response:
    """Dispute a line: first a confirmation that shows what will be recorded,
    then (``confirm=yes``) the dispute, through the API's own handler."""

    def build(page: Page, form: dict[str, str]) -> Response:
        check_rep_access(page, rep_id, "post_dispute")
        doc = page.reports.statement(rep_id, period)
        paid = doc.get("paid") if doc.get("status") == "paid" else None
        if not isinstance(paid, dict):
            raise NotFoundError(f"{period} of {rep_id} is not paid", field="period")
        index = _line_number(form.get("line", ""), len(doc["lines"]))
        line = doc["lines"][index]
        message = form.get("message", "").strip()
        if not message:
            raise _missing_message(page.locale)
        # the confirmation names the dispute it will record: confirmed twice
        # (Back, then Confirm again; a double click), it is recorded once
        named = form.get("dispute", "")
        dispute_id = named if _DISPUTE_ID.fullmatch(named) else _new_dispute_id()
        owner = page.ledger.dispute_of(dispute_id) if dispute_id == named else None
        if owner is not None and owner != (rep_id, paid["run_id"]):
            # the form named someone else's dispute (edited): this one gets its
            # own id — not "raised" with nothing stored, nor a hint of the other
            dispute_id = named = _new_dispute_id()
        if form.get("confirm") != "yes":
            return page.render(
                "dispute_confirm.html",
                **_of_statement(rep_id, doc),
                index=index,
                line=line,
                run_id=paid["run_id"],
                message=message,
                dispute_id=dispute_id,
            )
        text = f"line {index + 1} {line['kind']} {line['amount']}: {message}"
        body = DisputeIn(
            run_id=paid["run_id"],
            message=text[:10_000],
            dispute_id=dispute_id,
            rep_id=None if page.who.role == "rep" else rep_id,
        )
        try:
            post_dispute(body, page.who, page.use_cases)
        except (ConflictError, BatchRejectedError) as exc:
            if dispute_id != named or exc.status != "conflict":
                raise
            # recorded by the first confirmation: its answer again
        where = f"/app/reps/{urllib.parse.quote(rep_id)}/statements/{urllib.parse.quote(period)}"
        return noted_redirect(page, where, "dispute_raised", dispute_id)

    return await serve_form(request, build)


def _line_number(text: str, count: int) -> int:
    """The statement line a dispute form names: 0 to ``count`` - 1, never
    counted from the end (``-1`` named the last line); NotFoundError else."""
    try:
        index = int(text.strip())
    except ValueError:
        index = -1
    if not 0 <= index < count:
        raise NotFoundError("no such line", field="line")
    return index


@router.post("/reps/{rep_id}/estimate")
async def estimate(rep_id: str, request: Request) -> Response:
    """The estimator of My pay: what one more sale would add to the rep's open
    period (`Reports.estimate`, as `POST /reps/{rep_id}/estimate`); records nothing."""

    def build(page: Page, form: dict[str, str]) -> Response:
        check_rep_access(page, rep_id, "post_estimate")
        try:
            sale = EstimateSale(
                amount=typed_amount(form.get("amount", "")),
                category=form.get("category", "").strip() or None,
                on=parse_day(form.get("date", "").strip()),
            )
            result = page.reports.estimate(rep_id, sale, actor=page.who.actor)
        except (InvalidInputError, BatchRejectedError, NotFoundError) as exc:
            # the estimator again, with what was typed and what is wrong with it
            return page.render(
                "estimate_refused.html",
                reps=[rep_id],
                rep_id=rep_id,
                form=form,
                problem=_in_words(exc),
            )
        return page.render(
            "estimate.html",
            reps=[rep_id],
            rep_id=rep_id,
            e=estimate_texts(result, page.locale),
            form=form,
        )

    return await serve_form(request, build)


def typed_amount(text: str) -> str:
    """An amount as typed: the pages show money grouped in thousands
    (``1,000.00``), so a grouped amount is read without its commas; any other
    text goes to the rules as it is (and is refused there, naming why)."""
    typed = text.strip()
    plain = ungrouped(typed, ",")
    return typed if plain is None else plain


def _in_words(exc: LedgerError) -> str:
    """What is wrong with a form's input, field by field — not an import's
    "1 bad line; nothing was stored" wording."""
    if isinstance(exc, BatchRejectedError):
        return "; ".join(f"{e.field}: {e.reason}" if e.field else e.reason for e in exc.errors)
    return f"{exc.field}: {exc.reason}" if exc.field else exc.reason


def _missing_message(locale: str) -> LedgerError:
    return InvalidInputError(words(locale)["dispute_message"], field="message")


# -- Overview --------------------------------------------------------------------


@router.get("/overview")
def overview(request: Request) -> Response:
    """The dashboard: attainment, payouts by team, tiers, red lines, lag, chain."""

    def build(page: Page) -> Response:
        if page.who.role not in _OVERVIEW_ROLES:
            raise ForbiddenError("overview: finance and compliance")
        require_role(page.who, "get_verify")
        # payouts by team are pay: finance's (SPEC §5); compliance sees the rest
        return page.render(
            "overview.html",
            o=views.overview(page.reports, request.query_params.get("period"), viewer_of(page.who)),
            pay=page.who.role == "finance",
        )

    return serve(page_of(request), build)
