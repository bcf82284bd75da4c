"""The words of explanations, rendered from step data (English; Simplified
Chinese for the teams paid in CNY). Changing wording never touches a number."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final, Literal

from policies.explanation import Step
from policies.pay_warnings import PayWarning
from policies.rounding import RATIO_PLACES

__all__ = [
    "LOCALES",
    "PHRASES",
    "STEP_VALUES",
    "TEMPLATES",
    "TERMS",
    "ValueKind",
    "money_shown",
    "render_step",
    "render_warning",
    "shown_values",
    "value_kinds",
    "words_of",
]

TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "sale_commission": (
            "Sale {sale_id}: {amount} × share {share} = {credited} credited, × {rate} "
            "({rate_source} rate, category {category}) = {commission}"
        ),
        "sale_clawed_back": (
            "Sale {sale_id} ({amount}) cancelled at {cancelled_at}, within its "
            "{window_days}-day clawback window (to {window_ends_at}): not credited ({reason})"
        ),
        "cancellation_outside_window": (
            "Sale {sale_id} was cancelled at {cancelled_at}, after its {window_days}-day "
            "window ended at {window_ends_at}: it stays credited"
        ),
        # as paid statements recorded them before the moments were kept
        "sale_clawed_back_days": (
            "Sale {sale_id} ({amount}) cancelled {days} days after it occurred, within the "
            "{window_days}-day clawback window: not credited ({reason})"
        ),
        "cancellation_outside_window_days": (
            "Sale {sale_id} was cancelled {days} days after it occurred, after the "
            "{window_days}-day window: it stays credited"
        ),
        "commission_total": (
            "Commission on {sales} credited sale(s) totalling {credited_total}: {commission} "
            "(plan {plan_id} v{plan_version})"
        ),
        "rounded": "Rounded half-up to the cent: {unrounded} → {amount}",
        "no_sales_target": "No approved {kpi} target for this period, so no bonus",
        "attainment": (
            "{kpi}: credited {credited} ÷ target {target} ({target_id}) = attainment "
            "{attainment}, weight {weight}"
        ),
        "kpi_score": "{kpi}: score {score}, weight {weight}",
        "kpi_missing": "{kpi}: no score recorded, counts as 0, weight {weight}",
        "weighted_score": "Weighted score: {score}",
        "tier_selected": (
            "Score {score} reaches the tier from {tier_from}: coefficient {coefficient} × "
            "target bonus {target_bonus} = {amount} (plan {plan_id} v{plan_version})"
        ),
        "bonus_capped": "Capped at {cap} × target bonus = {ceiling}",
        "case_overturned": "Case {case_id} was overturned: no rung, no deduction",
        "minor_warning": "Case {case_id} ({code}): rung {rung}, no points deducted",
        "points_deducted": (
            "Case {case_id} ({code}): rung {rung}, {points} points × {point_value} = "
            "{deduction} off the bonus"
        ),
        "bonus_after_points": "Bonus after deducting {deduction}: {amount} (never below 0)",
        "bonus_forfeited": (
            "Bonus forfeited: red-line case {case_id} ({code}) approved by {approved_by}"
        ),
        "fine_red_line": (
            "Fine for red-line case {case_id} ({code}): the {amount} involved, approved by "
            "{approved_by}"
        ),
        "adjustment_approved": (
            "Adjustment {adjustment_id}: {amount} ({reason}), approved by {approved_by}"
        ),
        "correction": (
            "Correction of paid period {paid_period} (run {run_id}): replay now "
            "{replay_total} − paid {paid_total} = {difference}"
        ),
        "correction_again": (
            "Correction of paid period {paid_period} (run {run_id}): replay now "
            "{replay_total} − paid {paid_total} − corrected before {corrected_before} = "
            "{difference}"
        ),
        "correction_change": "{kind}: {before} → {after} ({change})",
        "carried_balance": "Negative total carried from {from_period}: {amount}",
        "balance_converted": (
            "Owed in {currency}, this period pays in {plan_currency}: {amount} {currency} × "
            "{rate} (rate from {rate_from}) = {converted} {plan_currency}"
        ),
        # SPEC §3.1 shapes of pay
        "sale_band": (
            "Sale {sale_id}: {credited} credited in the band from {band_from}, category "
            "{category}: {base_rate} ({rate_source} rate) × multiplier {multiplier} / band rate "
            "{band_rate} → {rate} = {commission}"
        ),
        "tiers_reached": (
            "Tiers by {measure} ({method}): the period reached the band from {band_from} "
            "(attainment {attainment}, credited {credited})"
        ),
        "tiers_without_target": (
            "No approved {kpi} target: bands by {measure} do not apply, base rates are paid"
        ),
        "gate_without_target": "No approved {kpi} target: the gate {gate} does not apply",
        "per_sale_cap": (
            "Sale {sale_id}: commission {commission} capped at {cap} per sale ({cut} cut)"
        ),
        "period_cap": "Commission {commission} above the period cap {cap}: {cut} taken back",
        "gate_not_reached": (
            "Attainment {attainment_shown} is below the gate {gate_shown}: the commission "
            "left, {commission}, is not paid"
        ),
        "band_next_not_reached": (
            "Attainment {attainment_shown} is below the next band, from {band_from_shown}: "
            "bands compare the exact attainment, not the 4 places it is shown with"
        ),
        "tier_next_not_reached": (
            "Score {score_shown} is below the next tier, from {tier_from_shown} (coefficient "
            "{coefficient}): tiers compare the exact score, not the 4 places it is shown with"
        ),
        "gate_not_reached_rounded": (
            "Attainment {attainment} is below the gate {gate}: the commission left, "
            "{commission}, is not paid"
        ),
        "spiff_sale": (
            "SPIFF {spiff_id}, sale {sale_id} ({category}, {credited} credited): fixed {fixed} × "
            "share {share} / rate {rate} = {earned}"
        ),
        "spiff_total": (
            "SPIFF {spiff_id} ({window_from} to {window_to}, category {category}, minimum "
            "{min_amount}): {sales} sale(s), {amount}"
        ),
        "bonus_prorated": (
            "Enrolled {enrolled_from} to {enrolled_to}: {days} of {period_days} days = "
            "{fraction} × target bonus {target_bonus}"
        ),
        "draw_top_up": (
            "Earned {earned} before the draw, below the draw of {draw_amount}: topped up by "
            "{top_up} (recoverable: {recoverable})"
        ),
        "draw_recovered": (
            "Earned {earned} leaves {room} above the draw ({in_draw_period} draw period): "
            "{recovered} of the draw balance recovered"
        ),
        "draw_balance": "Draw balance {balance_before} → {balance_after}",
        "override_rep": "Level {level}: rep {rep_id} credited {credited}",
        "override_total": "Override level {level}: {credited} credited × {rate} = {amount}",
        "fx_converted": (
            "Sale {sale_id}: {amount} {currency} × {rate} (rate from {rate_from}) = "
            "{converted} {plan_currency}"
        ),
        "payment_released": (
            "Payment {payment_id} of {paid} on sale {sale_id} ({sale_amount}): {fraction} of "
            "its commission {earned} released = {commission} (the sale's payments so far, to "
            "the cent, less {released_before} released before), SPIFF {spiff}"
        ),
        "payment_released_unearned": (
            "Payment {payment_id} of {paid} on sale {sale_id} ({sale_amount}): {fraction} of "
            "its commission released = {commission} (the sale's payments so far, to the "
            "cent, less {released_before} released before), SPIFF {spiff}"
        ),
        "payment_released_share": (
            "Payment {payment_id} of {paid} on sale {sale_id} ({sale_amount}): {fraction} of "
            "its commission released = {commission}, SPIFF {spiff}"
        ),
        "collection_total": (
            "Paid on collection: {payments} payment(s) in the period release {amount} of commission"
        ),
        # warnings (`policies.pay_warnings`)
        "unknown_kpi": (
            "KPI {kpi} is not in plan {plan_id} v{plan_version} (its KPIs: {plan_kpis}): "
            "its targets and scores weigh nothing in the score"
        ),
        "category_lookalike": (
            "Category {category} differs from the plan's {plan_category} only by case or "
            "spacing: its {sales} sale(s) earn the default rate {default_rate}, not "
            "{plan_rate}"
        ),
        "rep_not_in_splits": (
            "Sale {sale_id} is recorded for {rep_id}, who is not among its splits "
            "({splits}): {rep_id} is credited nothing for it"
        ),
        "sale_after_leaving": (
            "Sale {sale_id} is dated after {rep_id} left on {left_on}: {rep_id} is "
            "credited nothing for it; record it again for a rep who has not left"
        ),
        "sale_after_leaving_undated": (
            "Sale {sale_id} is dated after {rep_id} left: {rep_id} is credited nothing "
            "for it; record it again for a rep who has not left"
        ),
        "manager_lookalike": (
            "manager_id {manager_id} is rep {manager_rep}'s id in another spelling: "
            "{manager_rep} manages {rep_id}, but an override is paid only to a manager_id "
            "written as the manager's rep id, so {manager_rep} earns none on {rep_id}'s "
            "sales; write it as {manager_rep}"
        ),
        "manager_left": (
            "{rep_id} is put under {manager_id}, who left on {left_on}: they report to "
            "a manager who has gone, who earns no override on their sales from then on"
        ),
        "transfer_same_instant": (
            "Another transfer of {rep_id} takes effect at the same instant "
            "({occurred_at}) with another {fields}: the one recorded last is in force "
            "from then on; date them apart if both should count, in order"
        ),
        "kpi_score_replaces": (
            "{rep_id} already has a {kpi} score for {period} (dated {other_at}): this "
            "one, dated at or after it, replaces it"
        ),
        "kpi_score_outdated": (
            "{rep_id} already has a {kpi} score for {period} dated later ({other_at}): "
            "this one is stored but does not count — the latest by occurred_at counts; "
            "date a correction at or after the score it corrects"
        ),
        "target_replaces": (
            "{rep_id} already has a {kpi} target for {period} ({other_id}, dated "
            "{other_at}): this one, dated at or after it, replaces it from when this one "
            "counts — at once if it needs no approval, else once approved"
        ),
        "target_outdated": (
            "{rep_id} already has a {kpi} target for {period} dated later ({other_id}, "
            "{other_at}): this one is stored but does not count while that one does "
            "(approved, or needing no approval) — the latest by occurred_at counts; date a "
            "change at or after the target it changes"
        ),
        "override_unfollowed": (
            "Plan {plan_id} v{plan_version} has an override, but no rep follows the plan "
            "yet: whether its managers have reports could not be checked; an override "
            "pays a manager a share of their reports' sales"
        ),
        "no_plan_in_force": (
            "Sale {sale_id} falls in {period}, before any version of plan {plan_id} is in "
            "force: no statement of {period} can be made, so it pays nothing until a "
            "version covering {period} is published"
        ),
    },
    "zh-CN": {
        "sale_commission": (
            "销售 {sale_id}：{amount} × 分成 {share} = 计入 {credited}，× {rate}（类别 {category}，"
            "{rate_source}费率）= {commission}"
        ),
        "sale_clawed_back": (
            "销售 {sale_id}（{amount}）于 {cancelled_at} 取消，处于 {window_days} 天回扣期内"
            "（至 {window_ends_at}）：不计入（{reason}）"
        ),
        "cancellation_outside_window": (
            "销售 {sale_id} 于 {cancelled_at} 取消，其 {window_days} 天回扣期已于 "
            "{window_ends_at} 结束：仍计入"
        ),
        "sale_clawed_back_days": (
            "销售 {sale_id}（{amount}）在发生后 {days} 天取消，处于 {window_days} 天回扣期内："
            "不计入（{reason}）"
        ),
        "cancellation_outside_window_days": (
            "销售 {sale_id} 在发生后 {days} 天取消，已超过 {window_days} 天回扣期：仍计入"
        ),
        "commission_total": (
            "{sales} 笔计入销售合计 {credited_total} 的佣金：{commission}（方案 {plan_id} "
            "第 {plan_version} 版）"
        ),
        "rounded": "按四舍五入保留到分：{unrounded} → {amount}",
        "no_sales_target": "本期没有已批准的 {kpi} 目标，因此没有奖金",
        "attainment": (
            "{kpi}：计入 {credited} ÷ 目标 {target}（{target_id}）= 达成率 {attainment}，"
            "权重 {weight}"
        ),
        "kpi_score": "{kpi}：得分 {score}，权重 {weight}",
        "kpi_missing": "{kpi}：未记录得分，按 0 计，权重 {weight}",
        "weighted_score": "加权得分：{score}",
        "tier_selected": (
            "得分 {score} 达到起点为 {tier_from} 的档位：系数 {coefficient} × 目标奖金 "
            "{target_bonus} = {amount}（方案 {plan_id} 第 {plan_version} 版）"
        ),
        "bonus_capped": "封顶为 {cap} × 目标奖金 = {ceiling}",
        "case_overturned": "案件 {case_id} 已被撤销：不计档，不扣分",
        "minor_warning": "案件 {case_id}（{code}）：处分档 {rung}，不扣分",
        "points_deducted": (
            "案件 {case_id}（{code}）：处分档 {rung}，{points} 分 × {point_value} = 从奖金扣除 "
            "{deduction}"
        ),
        "bonus_after_points": "扣除 {deduction} 后的奖金：{amount}（不低于 0）",
        "bonus_forfeited": "奖金取消：红线案件 {case_id}（{code}）经 {approved_by} 批准",
        "fine_red_line": (
            "红线案件 {case_id}（{code}）罚款：涉及金额 {amount}，经 {approved_by} 批准"
        ),
        "adjustment_approved": "调整 {adjustment_id}：{amount}（{reason}），经 {approved_by} 批准",
        "correction": (
            "已支付期间 {paid_period}（批次 {run_id}）的更正：现在重算 {replay_total} − 已付 "
            "{paid_total} = {difference}"
        ),
        "correction_again": (
            "已支付期间 {paid_period}（批次 {run_id}）的更正：现在重算 {replay_total} − 已付 "
            "{paid_total} − 此前已更正 {corrected_before} = {difference}"
        ),
        "correction_change": "{kind}：{before} → {after}（{change}）",
        "carried_balance": "从 {from_period} 结转的负余额：{amount}",
        "balance_converted": (
            "以 {currency} 计，本期以 {plan_currency} 支付：{amount} {currency} × {rate}"
            "（{rate_from} 起的汇率）= {converted} {plan_currency}"
        ),
        "sale_band": (
            "销售 {sale_id}：在起点为 {band_from} 的区间计入 {credited}，类别 {category}："
            "{base_rate}（{rate_source}费率）× 系数 {multiplier} / 区间费率 {band_rate} → "
            "{rate} = {commission}"
        ),
        "tiers_reached": (
            "按 {measure} 分档（{method}）：本期达到起点为 {band_from} 的区间（达成率 "
            "{attainment}，计入 {credited}）"
        ),
        "tiers_without_target": (
            "没有已批准的 {kpi} 目标：按 {measure} 的分档不适用，按基础费率计算"
        ),
        "gate_without_target": "没有已批准的 {kpi} 目标：门槛 {gate} 不适用",
        "per_sale_cap": "销售 {sale_id}：佣金 {commission} 按单笔上限 {cap} 封顶（扣减 {cut}）",
        "period_cap": "佣金 {commission} 超过本期上限 {cap}：扣回 {cut}",
        "gate_not_reached": (
            "达成率 {attainment_shown} 低于门槛 {gate_shown}：剩余佣金 {commission} 不予支付"
        ),
        "band_next_not_reached": (
            "达成率 {attainment_shown} 低于下一区间（自 {band_from_shown} 起）："
            "区间按精确达成率比较，而非显示的四位小数"
        ),
        "tier_next_not_reached": (
            "得分 {score_shown} 低于下一档（自 {tier_from_shown} 起，系数 {coefficient}）："
            "档位按精确得分比较，而非显示的四位小数"
        ),
        "gate_not_reached_rounded": (
            "达成率 {attainment} 低于门槛 {gate}：剩余佣金 {commission} 不予支付"
        ),
        "spiff_sale": (
            "专项奖励 {spiff_id}，销售 {sale_id}（{category}，计入 {credited}）：固定 {fixed} × "
            "分成 {share} / 比例 {rate} = {earned}"
        ),
        "spiff_total": (
            "专项奖励 {spiff_id}（{window_from} 至 {window_to}，类别 {category}，最低 "
            "{min_amount}）：{sales} 笔销售，{amount}"
        ),
        "bonus_prorated": (
            "在职 {enrolled_from} 至 {enrolled_to}：{period_days} 天中的 {days} 天 = {fraction} "
            "× 目标奖金 {target_bonus}"
        ),
        "draw_top_up": (
            "保底前收入 {earned} 低于保底 {draw_amount}：补足 {top_up}（可回收：{recoverable}）"
        ),
        "draw_recovered": (
            "收入 {earned} 超出保底部分 {room}（保底期间：{in_draw_period}）：回收保底余额 "
            "{recovered}"
        ),
        "draw_balance": "保底余额 {balance_before} → {balance_after}",
        "override_rep": "第 {level} 级：销售代表 {rep_id} 计入 {credited}",
        "override_total": "第 {level} 级管理提成：计入 {credited} × {rate} = {amount}",
        "fx_converted": (
            "销售 {sale_id}：{amount} {currency} × {rate}（{rate_from} 起的汇率）= "
            "{converted} {plan_currency}"
        ),
        "payment_released": (
            "销售 {sale_id}（{sale_amount}）的回款 {payment_id} {paid}：释放佣金 {earned} 的 "
            "{fraction} = {commission}（该销售累计回款对应金额，精确到分，减去此前已释放的 "
            "{released_before}），专项奖励 {spiff}"
        ),
        "payment_released_unearned": (
            "销售 {sale_id}（{sale_amount}）的回款 {payment_id} {paid}：释放佣金的 {fraction} = "
            "{commission}（该销售累计回款对应金额，精确到分，减去此前已释放的 "
            "{released_before}），专项奖励 {spiff}"
        ),
        "payment_released_share": (
            "销售 {sale_id}（{sale_amount}）的回款 {payment_id} {paid}：释放佣金的 {fraction} = "
            "{commission}，专项奖励 {spiff}"
        ),
        "collection_total": "按回款计提：本期 {payments} 笔回款释放佣金 {amount}",
        "unknown_kpi": (
            "KPI {kpi} 不在方案 {plan_id} 第 {plan_version} 版中（其 KPI：{plan_kpis}）："
            "它的目标和得分不计入加权得分"
        ),
        "category_lookalike": (
            "类别 {category} 与方案中的 {plan_category} 仅有大小写或空格之差：其 {sales} 笔销售"
            "按默认费率 {default_rate} 计算，而不是 {plan_rate}"
        ),
        "rep_not_in_splits": (
            "销售 {sale_id} 记在 {rep_id} 名下，但 {rep_id} 不在其分成中（{splits}）："
            "{rep_id} 不因此获得任何计入"
        ),
        "sale_after_leaving": (
            "销售 {sale_id} 的日期晚于 {rep_id} 的离职日 {left_on}：{rep_id} 不因此获得任何计入；"
            "请为一位在职的销售代表重新记录"
        ),
        "sale_after_leaving_undated": (
            "销售 {sale_id} 的日期晚于 {rep_id} 的离职日：{rep_id} 不因此获得任何计入；"
            "请为一位在职的销售代表重新记录"
        ),
        "manager_lookalike": (
            "manager_id {manager_id} 与销售代表 {manager_rep} 的编号只差大小写："
            "{manager_rep} 管理 {rep_id}，但管理提成只付给与经理编号写法完全一致的 manager_id，"
            "因此 {manager_rep} 不会从 {rep_id} 的销售中获得管理提成；请写作 {manager_rep}"
        ),
        "manager_left": (
            "{rep_id} 被划归 {manager_id} 管理，但 {manager_id} 已于 {left_on} 离职："
            "其经理已不在职，此后不会从其销售中获得管理提成"
        ),
        "transfer_same_instant": (
            "{rep_id} 的另一次调动在同一时刻（{occurred_at}）生效，且 {fields} 不同："
            "此后以最后记录的一次为准；如两次都应按先后生效，请把日期错开"
        ),
        "kpi_score_replaces": (
            "{rep_id} 在 {period} 已有 {kpi} 评分（日期 {other_at}）："
            "本次评分日期不早于它，取而代之"
        ),
        "kpi_score_outdated": (
            "{rep_id} 在 {period} 已有日期更晚的 {kpi} 评分（{other_at}）：本次评分已记录但不计入——"
            "以 occurred_at 最晚的为准；更正评分请使用不早于原评分的日期"
        ),
        "target_replaces": (
            "{rep_id} 在 {period} 已有 {kpi} 目标（{other_id}，日期 {other_at}）："
            "本次目标日期不早于它，自本次目标生效起取而代之——无需审批的即时生效，否则经批准后生效"
        ),
        "target_outdated": (
            "{rep_id} 在 {period} 已有日期更晚的 {kpi} 目标（{other_id}，{other_at}）："
            "本次目标已记录，但在该目标有效（已批准或无需审批）期间不计入——以 occurred_at "
            "最晚的为准；更改目标请使用不早于原目标的日期"
        ),
        "override_unfollowed": (
            "方案 {plan_id} 第 {plan_version} 版设有管理提成，但目前还没有销售代表采用该方案："
            "无法核对其经理是否有下属；管理提成按经理下属的销售额分成"
        ),
        "no_plan_in_force": (
            "销售 {sale_id} 属于 {period}，早于方案 {plan_id} 任何版本的生效期：{period} "
            "无法生成结算单，在发布覆盖 {period} 的版本之前，这笔销售不产生任何报酬"
        ),
    },
}
LOCALES = tuple(TEMPLATES)

# The words around the figures when a statement, diff or history is printed
# (`presentation`), in each locale of TEMPLATES.
PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "statement_heading": (
            "Statement rep {rep_id} · period {period} · {currency} · {status} · plan "
            "{plan_id} v{plan_version} · as of position {position}"
        ),
        "column_line": "line",
        "column_amount": "amount",
        "column_explanation": "explanation",
        "total": "total",
        "payable": "payable",
        "negative_carried": (
            "A negative total pays nothing: it is carried into the rep's next period, as a "
            "carried balance line."
        ),
        "attainment_summary": (
            "attainment {attainment} · score {score} · tier coefficient {tier_coefficient}"
        ),
        "pending": "pending {kind} {subject_id} (awaiting approval; changes no payout yet)",
        "pending_fx_rate": (
            "pending {kind} {subject_id} (waiting for an exchange rate {base}→{quote}; "
            "changes no payout yet)"
        ),
        "unreleased": (
            "Unreleased: {amount} earned by this period's sales, released as the customers "
            "pay (pay on collection)"
        ),
        "pending_paid": (
            "This period is paid and stays as paid: a pending item approved now (or its rate "
            "set) changes nothing here; the difference is booked as a correction line in the "
            "rep's first unpaid period."
        ),
        "paid_by": "paid by run {run_id} (event {paid_event_id})",
        "later_events": "later events changed what this period would pay:",
        "warning_label": "warning",
        "later_event": (
            "{type} {event_id} at position {position} by {actor}: its correction in {correction_in}"
        ),
        "correction_to": "their correction is booked in {period}",
        "chain_head": "chain head {position}:{hash}",
        "diff_heading": (
            "Diff rep {rep_id} · {period} · position {from_position} → {to_position} · total "
            "{total_before} → {total_after} ({total_change})"
        ),
        "diff_none": "no line changed",
        "diff_change": "{kind}{subject}: {before} → {after} ({change})",
        "diff_subject": " ({subject})",
        "diff_added": "+ {type} {event_id}{by}",
        "diff_by": " by {actor} ({at})",
        "diff_removed": "- {type} {event_id}: still recorded, no longer counted on this line",
        "diff_removed_later": "- {type} {event_id}: not recorded yet at position {position}",
        "diff_cause": "because of {type} {event_id} at position {position} by {actor} ({at})",
        "diff_cause_id": "because of event {event_id}",
        "diff_cause_withheld": "because of events you may not read",
        "history_heading": "Disciplinary history of rep {rep_id}",
        "history_none": "nothing recorded",
        "history_case": (
            "{date} case {case_id} {severity} {code}: {description} — approval {approval}, "
            "sanction {sanction}{overturned}{note}"
        ),
        "history_overturned_mark": " [overturned]",
        "history_decision_note": " — note: {note}",
        "history_overturned": "{date} case {case_id} overturned: {reason}",
        "history_coaching": "{date} coaching: {topic}",
        "sanction_points": "{points} points",
        "sanction_none_while": "none while {approval}",
        "sanction_none": "none",
        "sanction_fined": "fined {amount} (the amount involved)",
        "demo_recorded": (
            "Recorded {events} events: a quarter of the east field-sales team (3 reps), "
            "payout run {run_id} approved and paid, then a late cancellation and a dispute; "
            "and the inside-sales team on a second plan.\n"
        ),
        "demo_second_plan": (
            "\nA second plan, inside-sales (monthly; SPEC 3.1 shapes): an accelerator above "
            "quota, a per-sale cap, a software SPIFF, a prorated bonus, a new hire on a "
            "recoverable draw, a USD deal, and the team lead's override.\n"
        ),
        "demo_explore": "\nExplore further:",
        "demo_q4_correction": "the correction of Q3, carried forward",
        "demo_red_line": "red-line fine, bonus forfeited, approved target change",
        "demo_minor_cases": "first and second minor case, coaching",
        "demo_draw": "a new hire's draw recovered",
        "demo_override": "a manager's override",
        "demo_approval_diff": "what an approval changed",
    },
    "zh-CN": {
        "statement_heading": (
            "对账单 销售代表 {rep_id} · 期间 {period} · {currency} · {status} · 方案 "
            "{plan_id} 第 {plan_version} 版 · 截至位置 {position}"
        ),
        "column_line": "项目",
        "column_amount": "金额",
        "column_explanation": "说明",
        "total": "合计",
        "payable": "应付",
        "negative_carried": "负的合计不予支付：它作为结转余额计入该销售代表的下一期间。",
        "attainment_summary": "达成率 {attainment} · 得分 {score} · 档位系数 {tier_coefficient}",
        "pending": "待批准 {kind} {subject_id}（等待批准；暂不影响支付）",
        "pending_fx_rate": "待定 {kind} {subject_id}（等待汇率 {base}→{quote}；暂不影响支付）",
        "unreleased": "未释放：本期销售已赚取 {amount}，随客户回款释放（按回款计提）",
        "pending_paid": (
            "本期间已支付，保持不变：待批准事项现在获批（或其汇率设定）不会改变本期间；"
            "差额作为更正行计入该销售代表的第一个未支付期间。"
        ),
        "paid_by": "已由批次 {run_id} 支付（事件 {paid_event_id}）",
        "later_events": "之后改变本期间应付金额的事件：",
        "warning_label": "提示",
        "later_event": (
            "{type} {event_id}，位置 {position}，记录人 {actor}：更正记入 {correction_in}"
        ),
        "correction_to": "其更正记入 {period}",
        "chain_head": "链头 {position}:{hash}",
        "diff_heading": (
            "差异 销售代表 {rep_id} · {period} · 位置 {from_position} → {to_position} · 合计 "
            "{total_before} → {total_after}（{total_change}）"
        ),
        "diff_none": "没有项目变化",
        "diff_change": "{kind}{subject}：{before} → {after}（{change}）",
        "diff_subject": "（{subject}）",
        "diff_added": "+ {type} {event_id}{by}",
        "diff_by": "，记录人 {actor}，{at}",
        "diff_removed": "- {type} {event_id}：事件仍在账，此行不再计入",
        "diff_removed_later": "- {type} {event_id}：位置 {position} 时尚未记录",
        "diff_cause": "因 {type} {event_id}（位置 {position}，记录人 {actor}，{at}）",
        "diff_cause_id": "因事件 {event_id}",
        "diff_cause_withheld": "因您无权查看的事件",
        "history_heading": "销售代表 {rep_id} 的纪律记录",
        "history_none": "无记录",
        "history_case": (
            "{date} 案件 {case_id} {severity} {code}：{description} — 审批 {approval}，"
            "处分 {sanction}{overturned}{note}"
        ),
        "history_overturned_mark": "［已撤销］",
        "history_decision_note": " — 审批意见：{note}",
        "history_overturned": "{date} 案件 {case_id} 已撤销：{reason}",
        "history_coaching": "{date} 辅导：{topic}",
        "sanction_points": "扣 {points} 分",
        "sanction_none_while": "{approval}，暂无处分",
        "sanction_none": "无",
        "sanction_fined": "按涉及金额罚款 {amount}",
        "demo_recorded": (
            "已记录 {events} 个事件：东区外勤销售团队（3 名销售代表）的一个季度，"
            "付款批次 {run_id} 已批准并支付，随后一笔迟到的取消和一项争议；"
            "以及采用第二个方案的内部销售团队。\n"
        ),
        "demo_second_plan": (
            "\n第二个方案 inside-sales（按月；SPEC 3.1 的形态）：超额加速、单笔封顶、"
            "软件专项奖励、按比例奖金、新员工的可追回保底、一笔美元交易，以及团队主管的管理提成。\n"
        ),
        "demo_explore": "\n继续查看：",
        "demo_q4_correction": "第三季度的更正，结转到下一期",
        "demo_red_line": "红线罚款、奖金没收、已批准的目标调整",
        "demo_minor_cases": "第一次和第二次轻微违规、辅导",
        "demo_draw": "新员工保底的追回",
        "demo_override": "经理的管理提成",
        "demo_approval_diff": "一次审批改变了什么",
    },
}

# Words for the values those phrases show (line kinds, severities, statuses,
# sanctions); a value with no entry is shown as it is.
TERMS: dict[str, dict[str, str]] = {
    "en": {"not_required": "not required", "red_line": "red line"},
    "zh-CN": {
        "commission": "佣金",
        "bonus": "奖金",
        "fine": "罚款",
        "adjustment": "调整",
        "correction": "更正",
        "carried_balance": "结转余额",
        "spiff": "专项奖励",
        "gate": "门槛",
        "cap": "封顶",
        "draw": "保底",
        "draw_recovery": "保底回收",
        "draw_balance": "保底余额",
        "override": "管理提成",
        "minor": "轻微",
        "red_line": "红线",
        "approved": "已批准",
        "pending": "待批准",
        "rejected": "已驳回",
        "not_required": "无需批准",
        "open": "未结",
        "paid": "已支付",
        "warning": "警告",
        "bonus forfeited": "取消奖金",
        "fined the amount involved": "按涉及金额罚款",
        # where a sale's rate came from (`rate_source` of a commission step)
        "category": "类别",
        "default": "默认",
        # what commission tiers are measured by, and how (`measure`, `method`)
        "attainment": "达成率",
        "credited": "计入金额",
        "marginal": "边际累进",
        "retroactive": "追溯全额",
        # what a pending item is (`kind` of a pending step)
        "target": "目标",
        "case": "案件",
        "sale": "销售",
        "payment": "回款",
    },
}

# Step values that are words of the ledger's own (not names from the events or
# the plan), shown in the locale's words (`TERMS`).
_TERM_FIELDS = frozenset({"rate_source", "kind", "measure", "method"})

# What each value a step's words show is, by step code (the words' key in
# `TEMPLATES`), so that money reads alike in every step (`money_shown`) while
# every other value is shown as the step holds it. Each name is marked by its
# kind: ``$`` money, ``~`` a tier band's lower bound (money when the bands are
# measured in credited money, a ratio when by attainment), ``%`` a ratio (a
# rate, share, score, fraction, FX rate), ``#`` a count (sales, days, points,
# levels, versions); unmarked, text (ids, names, codes, dates, the ledger's
# words). A recorded amount (`policies.explanation.recorded`) is money too:
# it has 2 decimals at least already. A new step's values are classified here
# (tests/unit/test_wording.py fails for a field of its words that is not).
ValueKind = Literal["money", "bound", "ratio", "count", "text"]
_MARKS: Final[Mapping[str, ValueKind]] = {"$": "money", "~": "bound", "%": "ratio", "#": "count"}


def value_kinds(names: str) -> dict[str, ValueKind]:
    """The kinds of a step's values from their marked names (``"$amount %rate sale_id"``)."""
    return {name.lstrip("$~%#"): _MARKS.get(name[0], "text") for name in names.split()}


_STEP_VALUE_NAMES: Final[Mapping[str, str]] = {
    "sale_commission": "$amount %share $credited %rate rate_source category $commission sale_id",
    "sale_clawed_back": "sale_id $amount cancelled_at #window_days window_ends_at reason",
    "cancellation_outside_window": "sale_id cancelled_at #window_days window_ends_at",
    "sale_clawed_back_days": "sale_id $amount #days #window_days reason",
    "cancellation_outside_window_days": "sale_id #days #window_days",
    "commission_total": "#sales $credited_total $commission plan_id #plan_version",
    "rounded": "$unrounded $amount",
    "no_sales_target": "kpi",
    # the sales_amount target is money, as the credited sales it divides
    "attainment": "kpi $credited $target target_id %attainment %weight",
    "kpi_score": "kpi %score %weight",
    "kpi_missing": "kpi %weight",
    "weighted_score": "%score",
    "tier_selected": "%score %tier_from %coefficient $target_bonus $amount plan_id #plan_version",
    "bonus_capped": "%cap $ceiling",
    "case_overturned": "case_id",
    "minor_warning": "case_id code rung",
    "points_deducted": "case_id code rung #points $point_value $deduction",
    "bonus_after_points": "$deduction $amount",
    "bonus_forfeited": "case_id code approved_by",
    "fine_red_line": "case_id code $amount approved_by",
    "adjustment_approved": "adjustment_id $amount reason approved_by",
    "correction": "paid_period run_id $replay_total $paid_total $difference",
    "correction_again": (
        "paid_period run_id $replay_total $paid_total $corrected_before $difference"
    ),
    "correction_change": "kind $before $after $change",
    "carried_balance": "from_period $amount",
    "balance_converted": "currency plan_currency $amount %rate rate_from $converted",
    "sale_band": (
        "sale_id $credited ~band_from category %base_rate rate_source %multiplier %band_rate "
        "%rate $commission"
    ),
    "tiers_reached": "measure method ~band_from %attainment $credited",
    "tiers_without_target": "kpi measure",
    "gate_without_target": "kpi %gate",
    "per_sale_cap": "sale_id $commission $cap $cut",
    "period_cap": "$commission $cap $cut",
    "gate_not_reached": "%attainment_shown %gate_shown $commission",
    "gate_not_reached_rounded": "%attainment %gate $commission",
    "tier_next_not_reached": "%score_shown %tier_from_shown %coefficient",
    "band_next_not_reached": "%attainment_shown %band_from_shown",
    "spiff_sale": "spiff_id sale_id category $credited $fixed %share %rate $earned",
    "spiff_total": "spiff_id window_from window_to category $min_amount #sales $amount",
    "bonus_prorated": "enrolled_from enrolled_to #days #period_days %fraction $target_bonus",
    "draw_top_up": "$earned $draw_amount $top_up recoverable",
    "draw_recovered": "$earned $room in_draw_period $recovered",
    "draw_balance": "$balance_before $balance_after",
    "override_rep": "#level rep_id $credited",
    "override_total": "#level $credited %rate $amount",
    "fx_converted": "sale_id $amount currency %rate rate_from $converted plan_currency",
    "payment_released": (
        "payment_id $paid sale_id $sale_amount $earned %fraction $released_before $commission "
        "$spiff"
    ),
    "payment_released_unearned": (
        "payment_id $paid sale_id $sale_amount %fraction $released_before $commission $spiff"
    ),
    "payment_released_share": "payment_id $paid sale_id $sale_amount %fraction $commission $spiff",
    "collection_total": "#payments $amount",
    # warnings (`policies.pay_warnings`)
    "unknown_kpi": "kpi plan_id #plan_version plan_kpis",
    "category_lookalike": "category plan_category #sales %default_rate %plan_rate",
    "rep_not_in_splits": "sale_id rep_id splits",
    "sale_after_leaving": "sale_id rep_id left_on",
    "sale_after_leaving_undated": "sale_id rep_id",
    "override_unfollowed": "plan_id #plan_version",
    "manager_lookalike": "rep_id manager_id manager_rep",
    "manager_left": "rep_id manager_id left_on",
    "transfer_same_instant": "rep_id occurred_at fields",
    "kpi_score_replaces": "rep_id kpi period other_at",
    "kpi_score_outdated": "rep_id kpi period other_at",
    "target_replaces": "rep_id kpi period other_id other_at",
    "target_outdated": "rep_id kpi period other_id other_at",
    "no_plan_in_force": "sale_id period plan_id",
}
STEP_VALUES: Final[Mapping[str, Mapping[str, ValueKind]]] = {
    code: value_kinds(names) for code, names in _STEP_VALUE_NAMES.items()
}


_MISSING = "—"  # what a template shows for a value its step lacks

# A step a paid statement recorded keeps words that fit it when a later
# version adds values its code's words need: code -> (a value added, the key
# of the words for the steps recorded without it), the latest addition first.
# A paid statement is served as recorded, and read in another locale its
# steps are worded again.
_RECORDED_WITHOUT: dict[str, tuple[tuple[str, str], ...]] = {
    # the two moments compared (SPEC §3 rule 1 weighs time, not whole days)
    "sale_clawed_back": (("window_ends_at", "sale_clawed_back_days"),),
    "cancellation_outside_window": (("window_ends_at", "cancellation_outside_window_days"),),
    # an attainment that 4 places round up to the gate, shown below it
    "gate_not_reached": (("attainment_shown", "gate_not_reached_rounded"),),
    "payment_released": (
        # what the sale earned, that the fraction is taken of
        ("earned", "payment_released_unearned"),
        # a release to the cent, cumulative over the sale's payments (was its exact share)
        ("released_before", "payment_released_share"),
    ),
    # the day a rep left, which a sender who did not record it is not told
    "sale_after_leaving": (("left_on", "sale_after_leaving_undated"),),
}


def words_of(step: Step) -> str:
    """The key of ``step``'s words in `TEMPLATES`: its code, or the words of a
    step recorded before its code's words needed a value it lacks."""
    words = step.code
    for value, key in _RECORDED_WITHOUT.get(step.code, ()):
        if value in step.values:
            break
        words = key
    return words


_CENT_PLACES: Final = 2  # the fewest decimals money is shown with (SPEC §3: lines round to 0.01)
# the most decimals an unrounded amount is shown with: past them it is cut, and
# "…" says so (a prorated bonus is a repeating fraction, carried to 60 digits)
_SHOWN_PLACES: Final = 10
_CUT_FROM: Final = 12  # no shorter text has more than `_SHOWN_PLACES` decimals


def money_shown(text: str) -> str:
    """A money value as a step's words show it: exactly as the step holds it
    (an unrounded amount keeps every decimal it was computed with: ``49.005``),
    but never with fewer than 2 decimals (``49`` -> ``49.00``, ``-0.5`` ->
    ``-0.50``), so money never reads like a count. No thousands separators:
    the words of the statement JSON and the terminal show money as the
    amounts beside them do (``16600.00``). Text that is not a plain decimal
    (``—``, a value the step lacks) is shown as it is.

    Rounding is to the cent in every currency (SPEC §3), so 2 is the fewest
    decimals any line amount has; an amount an event recorded with its
    currency's third decimal (`policies.explanation.recorded`) keeps it. An
    unrounded amount of more than 10 decimals (a prorated bonus: 10000 × 45/92)
    is shown to 10 and "…" (``4891.3043478260…``); its step's value keeps
    every digit."""
    # a step per sale shows two or three amounts: the common forms first
    if "." in text:
        if text[-2:].isdigit():  # 2 decimals or more
            return text if len(text) <= _CUT_FROM else _cut(text)
    elif text.isascii() and text.isdigit():
        return f"{text}.00"
    return _padded(text)


def _cut(text: str) -> str:
    """`money_shown` of a long decimal: at most `_SHOWN_PLACES` decimals."""
    point = text.find(".")
    if len(text) - point - 1 <= _SHOWN_PLACES:
        return text
    return f"{text[: point + 1 + _SHOWN_PLACES]}…"


def _padded(text: str) -> str:
    """`money_shown` of a negative amount or one with fewer than 2 decimals."""
    sign, digits = ("-", text[1:]) if text[:1] == "-" else ("", text)
    whole, _, decimals = digits.partition(".")
    if not (whole.isascii() and whole.isdigit()) or len(decimals) >= _CENT_PLACES:
        return text
    if decimals and not (decimals.isascii() and decimals.isdigit()):
        return text
    return f"{sign}{whole}.{decimals:0<{_CENT_PLACES}}"


def _bound_shown(text: str, money: Callable[[str], str]) -> str:
    """A tier band's lower bound: a ratio as every ratio is shown (4 decimals,
    `policies.explanation.ratio`) when the bands are measured by attainment,
    else money (a bound of money with 4 decimals, of a currency that has them,
    is left as written)."""
    point = text.find(".")
    if point >= 0 and len(text) - point - 1 == RATIO_PLACES:
        return text
    return money(text)


def shown_values(
    kinds: Mapping[str, ValueKind],
    values: Mapping[str, Any],
    money: Callable[[str], str] = money_shown,
) -> dict[str, Any]:
    """``values`` with their money (and bounds, by their ``kinds``) as words show them."""
    shown = dict(values)
    for name, value in values.items():
        kind = kinds.get(name)
        if kind == "money":
            shown[name] = money(str(value))
        elif kind == "bound":
            shown[name] = _bound_shown(str(value), money)
    return shown


def render_step(step: Step, locale: str = "en", money: Callable[[str], str] | None = None) -> str:
    """The words of one step in ``locale`` (English when it is unknown), its
    money values (`STEP_VALUES`) shown by ``money`` (`money_shown` unless
    given: the web pages group thousands, as their tables do)."""
    render = _renderer(locale if locale in TEMPLATES else "en", words_of(step))
    if render is None:
        return f"{step.code}: {dict(step.values)}"
    return render(step.values, money_shown if money is None else money)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_Render = Callable[[Mapping[str, Any], Callable[[str], str]], str]


@cache
def _renderer(locale: str, code: str) -> _Render | None:
    """A template made once into a function of the step's values and the way
    money is shown: what ``template.format_map`` does, without parsing the
    template on every call (a statement renders a step per sale: 1.1 us ->
    0.35 us each). The function is an f-string whose literal parts are its
    default arguments (nothing of the template is ever read as code) and whose
    fields are dictionary lookups (``—`` for a value the step lacks, as
    before), a money value's passed through the money function.
    """
    template = TEMPLATES[locale].get(code)
    if template is None:
        return None
    kinds = STEP_VALUES.get(code, {})
    literals: dict[str, str] = {}
    pieces: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if literal:
            literals[f"_l{len(literals)}"] = literal
            pieces.append(f"{{_l{len(literals) - 1}}}")
        if name is None:
            continue
        if spec or conversion or not _FIELD.fullmatch(name):
            return lambda values, money: template.format_map(  # the general way
                _Values(shown_values(kinds, values, money))
            )
        if name in _TERM_FIELDS:
            pieces.append(f'{{_term(_get("{name}", _MISSING))}}')
        elif kinds.get(name) == "money":
            pieces.append(f'{{_money(_get("{name}", _MISSING))}}')
        elif kinds.get(name) == "bound":
            pieces.append(f'{{_bound(_get("{name}", _MISSING), _money)}}')
        else:
            pieces.append(f'{{_get("{name}", _MISSING)}}')
    defaults = ", ".join(f"{key}={key}" for key in literals)
    source = (
        f"def render(values, _money, {defaults}{', ' if defaults else ''}_MISSING=_MISSING):\n"
        f"    _get = values.get\n"
        f"    return f'{''.join(pieces)}'\n"
    )
    terms = TERMS.get(locale, {})
    namespace: dict[str, Any] = {
        **literals,
        "_MISSING": _MISSING,
        "_term": lambda value: terms.get(value, value),
        "_bound": _bound_shown,
    }
    exec(source, namespace)  # noqa: S102 - built above from field names and slots only
    render: _Render = namespace["render"]
    return render


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return _MISSING


def render_warning(warning: PayWarning, locale: str = "en") -> str:
    """The words of a warning (`policies.pay_warnings`), rendered like a step."""
    return render_step(Step(warning.code, warning.values, warning.event_ids), locale)
