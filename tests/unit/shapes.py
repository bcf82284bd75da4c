"""Plans with SPEC §3.1 sections, written as TOML on top of the SPEC's plan."""

from __future__ import annotations

from policies.plan import Plan, load_plan
from tests.builders import PLAN_TOML

_COMMISSION = "default_rate = 0.05            # share of credited sale amount\nrates = { software = 0.08 }    # by sale category\n"


def plan_toml(*, commission: str = "", tail: str = "", default_rate: str = "0.05") -> str:
    """The SPEC's plan with lines added to ``[commission]`` and sections at the end."""
    assert _COMMISSION in PLAN_TOML
    replaced = _COMMISSION.replace("0.05", default_rate) + commission
    return PLAN_TOML.replace(_COMMISSION, replaced) + "\n" + tail


def shaped(*, commission: str = "", tail: str = "", default_rate: str = "0.05") -> Plan:
    return load_plan(plan_toml(commission=commission, tail=tail, default_rate=default_rate), "toml")


def tiers(measure: str, method: str, bands: str) -> str:
    """A ``[commission.tiers]`` table (placed after the other sections)."""
    return f'[commission.tiers]\nmeasure = "{measure}"\nmethod = "{method}"\nbands = [{bands}]\n'


# The example: 0-10,000 at 1 %, 10,000-50,000 at 2 %, above 50,000 at 3 %.
CREDITED_BANDS = "{from = 0, rate = 0.01}, {from = 10000, rate = 0.02}, {from = 50000, rate = 0.03}"
# The accelerator: base rate, ×1.5 above the quota.
ACCELERATOR = "{from = 0.0, multiplier = 1.0}, {from = 1.0, multiplier = 1.5}"


def spiff(spiff_id: str, start: str, end: str, *, category: str | None = None, **pays: str) -> str:
    """A ``[[spiffs]]`` entry from ``start`` to ``end`` (dates); ``pays``: its
    ``min_amount``, ``amount`` or ``rate``, as written in TOML."""
    lines = [f'id = "{spiff_id}"', f"from = {start}", f"to = {end}"]
    if category is not None:
        lines.append(f'category = "{category}"')
    lines += [f"{name} = {value}" for name, value in pays.items()]
    return "\n[[spiffs]]\n" + "\n".join(lines) + "\n"


def draw(amount: str, until: str) -> str:
    """A recoverable ``[draw]`` of ``amount`` a period, until the date ``until``."""
    return f"\n[draw]\namount = {amount}\nrecoverable = true\nuntil = {until}\n"
