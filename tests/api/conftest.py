"""An API over a copy of the demo quarter, with a token per role."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.tokens import TokenStore
from demo import DemoResult, run_demo
from ledger.application import Ledger
from projections.service import Reports

SECRET = "test-token-secret-0123456789abcdef"


def demo_event(
    type_: str, *, at: str = "2026-11-02T10:00:00+08:00", **fields: Any
) -> dict[str, Any]:
    """An event of ``type_`` with ``fields`` as a POST /events body, at ``at``: by
    default a day in the demo's open quarter."""
    return {"type": type_, "occurred_at": at, **fields}


def demo_sale(sale_id: str, **extra: Any) -> dict[str, Any]:
    """A sale by rep-li in the demo's open quarter, as a POST /events body."""
    sale = demo_event(
        "SaleRecorded", sale_id=sale_id, rep_id="rep-li", amount="1000.00", currency="CNY"
    )
    return sale | extra


def demo_adjustment(adjustment_id: str, amount: str, reason: str, **extra: Any) -> dict[str, Any]:
    """An adjustment of rep-li's pay in the demo's open quarter, as a POST /events
    body (``extra``: e.g. the line's own actor)."""
    return demo_event(
        "AdjustmentRequested",
        **extra,
        adjustment_id=adjustment_id,
        rep_id="rep-li",
        period="2026-Q4",
        amount=amount,
        reason=reason,
    )


@dataclass
class Api:
    client: TestClient
    ledger: Ledger
    tokens: dict[str, str]
    demo: DemoResult

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def head(self) -> int:
        head = self.ledger.head()
        return head.position if head else 0


# Who holds a token in the API tests, by the name a test calls them:
# (actor, role, rep id for a rep).
HOLDERS: dict[str, tuple[str, str, str | None]] = {
    "rep": ("rep-li", "rep", "rep-li"),
    "other_rep": ("rep-chen", "rep", "rep-chen"),
    "manager": ("mgr-zhao", "manager", None),
    "other_manager": ("mgr-qian", "manager", None),
    "lead": ("lead-he", "manager", None),  # manages rep-sun and rep-xu; paid overrides
    "finance": ("fin-amy", "finance", None),
    "finance2": ("fin-bob", "finance", None),
    "compliance": ("cmp-head", "compliance", None),
    "integration": ("crm-sync", "integration", None),
    "integration2": ("crm-other", "integration", None),
    "admin": ("it-admin", "admin", None),
}


def issue_tokens(store: TokenStore, *names: str) -> dict[str, str]:
    """A token for each of the ``HOLDERS`` ``names``, by name."""
    tokens = {}
    for name in names:
        actor, role, rep_id = HOLDERS[name]
        tokens[name] = store.create(actor=actor, role=role, rep_id=rep_id)[0]
    return tokens


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoResult]:
    path = tmp_path_factory.mktemp("demo") / "ledger.db"
    ledger = Ledger(f"sqlite:///{path}")
    result = run_demo(ledger)
    ledger.close()
    return path, result


@pytest.fixture
def api(demo_db: tuple[Path, DemoResult], tmp_path: Path) -> Iterator[Api]:
    source, result = demo_db
    target = tmp_path / "ledger.db"
    shutil.copy(source, target)
    url = f"sqlite:///{target}"
    ledger = Ledger(url)
    settings = Settings(database_url=url, token_secret=SECRET, log_json=True, parse_workers=1)  # type: ignore[arg-type]
    app = create_app(settings, ledger=ledger)
    store = TokenStore(ledger, SECRET)
    tokens = issue_tokens(store, *HOLDERS)
    tokens["expired"] = store.create(actor="fin-amy", role="finance", ttl=timedelta(seconds=-1))[0]
    revoked, principal = store.create(actor="fin-amy", role="finance")
    store.revoke(principal.token_id)
    tokens["revoked"] = revoked
    tokens["forged"] = tokens["finance"][:-4] + (
        "AAAA" if not tokens["finance"].endswith("AAAA") else "BBBB"
    )
    tokens["malformed"] = "not-a-token"
    with TestClient(app) as client:
        yield Api(client, ledger, tokens, result)
    if app.state.stopped_cleanly:  # else a thread still reads: leave it to the exit
        ledger.close()


class Served:
    """The demo's quarter served on either store (`demo_served`)."""

    def __init__(self, client: TestClient, ledger: Ledger, tokens: dict[str, str]) -> None:
        self.client, self.ledger, self.tokens = client, ledger, tokens

    def call(self, method: str, path: str, who: str = "finance2", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def stored(self) -> int:
        head = self.ledger.head()
        return head.position if head is not None else 0


@pytest.fixture
def demo_served(db_url: str, make_ledger: Callable[..., Ledger]) -> Iterator[Served]:
    """The demo's quarter served on ``db_url``, a token for each holder."""
    ledger = make_ledger()
    run_demo(ledger)
    Reports(ledger).catch_up()
    tokens = issue_tokens(TokenStore(ledger, SECRET), *HOLDERS)
    settings = Settings(database_url=db_url, token_secret=SECRET, log_json=True, parse_workers=1)  # type: ignore[arg-type]
    with TestClient(create_app(settings, ledger=ledger), base_url="http://127.0.0.1") as client:
        yield Served(client, ledger, tokens)
