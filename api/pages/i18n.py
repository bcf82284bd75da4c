"""The words of the web pages, in English and Simplified Chinese (SPEC §5.1).

Statement wording (explanation steps, line kinds, statuses) comes from
`policies.wording`, like the CLI's and the API's; this module holds only the
words around it: headings, labels, buttons. Every key exists in both locales
(`tests/pages/test_pages.py` checks), so a zh-CN page has no English left over
beyond ids and numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import Any, Final

from fastapi import HTTPException, Request
from markupsafe import Markup

from api.deps import negotiate_locale
from policies.wording import LOCALES, PHRASES, TERMS

__all__ = [
    "LANG_COOKIE",
    "NAME_SHOWN",
    "WORDS",
    "RepNames",
    "choose_locale",
    "money",
    "ratio",
    "term",
    "words",
]

LANG_COOKIE: Final = "il_lang"
_SHOWN_DIGITS: Final = 20  # an amount's digits either side of the point the pages spell out
# the most decimals an unrounded amount is shown with: cut there, with "…"
_SHOWN_PLACES: Final = 10
_SHOWN_STEP: Final = Decimal(1).scaleb(-_SHOWN_PLACES)
# room for every digit of an amount shown cut (the default context's 28 are not)
_CUT_CONTEXT: Final = Context(prec=_SHOWN_DIGITS + 1 + _SHOWN_PLACES)

WORDS: Final[dict[str, dict[str, str]]] = {
    "en": {
        "app_name": "Incentive ledger",
        "skip": "Skip to content",
        "nav_pay": "My pay",
        "nav_overview": "Overview",
        "nav_docs": "API",
        "signed_in_as": "Signed in as {actor} · {role}",
        "sign_out": "Sign out",
        "language": "Language",
        "home_title": "Welcome",
        "home_nothing": "There is no page for the role {role} yet; the API serves it.",
        "home_signed_out": "You are signed out.",
        "home_how": (
            "Ask an administrator for a sign-in link "
            "(incentive-ledger token create --actor NAME --role ROLE --link)."
        ),
        "signin_failed_title": "This sign-in link does not work",
        "signin_failed": (
            "A sign-in link works once, for 15 minutes. This one was used already, has "
            "expired or was never issued. Ask for a new one."
        ),
        "signin_title": "Sign in",
        "signin_as": "Sign in as {actor} ({role})",
        "signin_once": "The link works once: pressing the button uses it.",
        "error_cross_site": (
            "This sign-in did not come from this site's own page. Open your sign-in link again."
        ),
        "pay_title": "Pay of {rep}",
        "pay_intro": (
            "Your periods with anything in them and the last year's, newest first. "
            "Open a period for its statement."
        ),
        "pay_period_missed": "{period} is none of your periods.",
        "period": "Period",
        "status": "Status",
        "total": "Total",
        "payable": "Payable",
        "currency": "Currency",
        "no_periods": "No statement yet.",
        "estimate_title": "What would one more sale add?",
        "estimate_intro": "An estimate for your open period: nothing is recorded.",
        "estimate_amount": "Amount",
        "estimate_category": "Category (optional)",
        "estimate_date": "Date (default: today)",
        "estimate_submit": "Estimate",
        "estimate_before": "Now",
        "estimate_after": "With the sale",
        "estimate_nothing_recorded": "Nothing was recorded: this is an estimate.",
        "open_statement": "Statement {period}",
        "disputes": "Disputes",
        "dispute_id": "Dispute",
        "run": "Run",
        "message": "Message",
        "outcome": "Outcome",
        "no_disputes": "No disputes.",
        "statement_title": "Statement {period}",
        "back_to_pay": "Back to all periods",
        "summary": "Summary",
        "plan": "Plan",
        "as_of": "As of position",
        "attainment": "Attainment",
        "score": "Weighted score",
        "tier_coefficient": "Tier coefficient",
        "lines": "Lines",
        "line": "Line",
        "amount": "Amount",
        "in_currency": "{head} ({currency})",
        "target": "Target",
        "about": "What it is",
        "explanation": "Explanation",
        "show_explanation": "Explanation and events",
        "steps_more": "{shown} of {count} steps shown.",
        "steps_all": "Show all steps",
        "events": "Events behind this line",
        "event_type": "Event",
        "recorded_by": "Recorded by",
        "recorded_at": "Recorded at (UTC)",
        "occurred_at": "Occurred at",
        "approved_by": "Approved by",
        "not_approved": "—",
        "events_more": "and {count} more events",
        "tier_ladder": "Tier ladder",
        "tier_from": "From score",
        "coefficient": "Coefficient",
        "tier_reached": "reached",
        "no_ladder": "This plan has no bonus tiers.",
        "pending_title": "Pending",
        "pending_item": "{kind} {subject_id}: waiting for approval; it changes no pay yet.",
        "pending_fx_item": (
            "{kind} {subject_id}: waiting for an exchange rate {base}→{quote}; "
            "it changes no pay yet."
        ),
        "pending_paid": PHRASES["en"]["pending_paid"],
        "unreleased": "Earned, not yet released (paid on collection)",
        "no_pending": "Nothing pending.",
        "paid_vs_now": "Paid and now",
        "paid_column": "Paid",
        "now_column": "Now",
        "change_column": "Change",
        "later_events": "Later events that changed what this period would pay",
        "later_withheld": "Other events, which you may not read",
        "correction_to": "The difference is booked as a correction in {period}.",
        "paid_by": "Paid by run {run_id}.",
        "dispute_line": "Dispute this line",
        "dispute_message": "What is wrong with this line?",
        "dispute_continue": "Continue",
        "dispute_only_paid": "Lines of a paid period can be disputed.",
        "negative_carried": (
            "A negative total pays nothing: it is carried into the rep's next period, as a "
            "carried balance line."
        ),
        "confirm_title": "Confirm the dispute",
        "confirm_what": (
            "This records a dispute for rep {rep} on payout run {run_id} ({period}, line "
            "{line}) with your message below. Finance will review it."
        ),
        "confirm_yes": "Raise the dispute",
        "confirm_no": "Cancel",
        "dispute_raised": "Dispute {subject} raised. Finance will review it.",
        "overview_title": "Overview",
        "overview_period": "Period",
        "choose_period": "Show",
        "period_typed": "Another period",
        "period_typed_hint": "e.g. 2026-07 or 2026-Q3; the first: {first}",
        "period_missed": "No statements here for {period}: showing {shown}.",
        "distribution": "Attainment distribution",
        "bucket": "Attainment",
        "reps": "Reps",
        "payouts_by_team": "Payouts by team and period",
        "payouts_unstored": (
            "{period}: {count} reps with nothing recorded in it are counted above but not"
            " in these sums, which add up the stored statements; the period summary lists them."
        ),
        "payouts_unstored_link": "Period summary of {period}",
        "team": "Team",
        "no_team": "(no team)",
        "payouts_paid": "Paid",
        "payouts_in_run": "In open runs",
        "payouts_open": "Not in a run",
        "payouts_all": "Payable in all",
        "payouts_columns": (
            "In open runs: what a calculated or approved run, not paid yet, will pay "
            "(as the run recorded it). Not in a run: payable now, in no run yet."
        ),
        "tier_counts": "Tier counts",
        "red_lines": "Red-line cases",
        "severity_red_line": "red line",
        "case_status": "Status",
        "count": "Count",
        "health": "Projections and audit chain",
        "position": "Chain head",
        "projected": "Projected to",
        "lag": "Lag (events)",
        "chain": "Audit chain",
        "chain_ok": "intact to position {verified}",
        "chain_checked": "new links checked just now: {checked}",
        "chain_unverified": "newer links not checked yet: {count} (the next view goes on)",
        "chain_broken": "broken at position {position}: {reason}",
        "no_data": "No data for this period.",
        "no_target": "no target",
        "chart_note": "The chart draws the table below it.",
        "status_open": "open",
        "status_calculated": "calculated",
        "status_approved": "approved",
        "status_rejected": "rejected",
        "status_paid": "paid",
        "status_corrected": "corrected",
        "case_approved": "approved",
        "case_pending": "pending",
        "case_rejected": "rejected",
        "case_overturned": "overturned",
        "error_title": "Something is not right",
        "error_404": "Not found.",
        "error_403": "Your role may not open this page.",
        "error_csrf": "The form expired or did not come from this site. Go back and try again.",
        "error_signin": "Please sign in.",
        "refused_self_approval": "You recorded this yourself: someone else must decide on it.",
        "refused_decided": "This has been decided already.",
        "refused_chain": "The audit chain is broken: payouts are refused until it is repaired.",
        "refused_tampered": "A paid statement no longer matches what was recorded.",
        "refused_conflict": "This contradicts what the ledger already holds.",
        "refused_unavailable": "The ledger could not be reached; nothing was recorded.",
        "refused_invalid": "The ledger refused this; nothing was recorded.",
        "refused_detail": "Details",
        "estimate_refused": "This sale cannot be estimated as typed:",
        "go_home": "Home",
        "nav_team": "Team",
        "nav_cases": "Cases",
        "team_title": "Team",
        "team_reps": "Reps",
        "team_waiting": "Targets and cases waiting for a decision",
        "cases_title": "Cases",
        "cases_waiting": "Red-line cases waiting for your decision",
        "cases_by_status": "Cases by severity and status",
        "cases_all": "All cases",
        "severity": "Severity",
        "case": "Case",
        "description": "Description",
        "case_not_required": "no approval needed",
        "history_title": "Disciplinary history of {rep}",
        "no_history": "Nothing recorded.",
        "history_entry": "Case",
        "history_kind": "What happened",
        "evidence": "Evidence",
        "history_recorded": "Recorded (UTC)",
        "history_decision": "Decided (UTC)",
        "sanction": "Sanction",
        "entry_case": "Violation, {severity}",
        "entry_overturned": "Overturned on appeal",
        "entry_coaching": "Coaching",
        "decided_by_at": "{status} by {actor}, {at}",
        "overturned_by_at": "overturned by {actor}, {at}",
        "decision_note": "note: {note}",
        "payouts_title": "Payouts",
        "nav_payouts": "Payouts",
        "period_summary": "Period summary",
        "team_subtotals": "Team subtotals",
        "summary_shown": "Reps {first}–{last} of {total}.",
        "summary_previous": "Previous reps",
        "summary_next": "Next reps",
        "runs": "Payout runs",
        "calculate": "Calculate a run",
        "calculated_by": "Calculated by",
        "decided_by": "Decided by",
        "actions": "Actions",
        "action_approve": "Approve",
        "action_reject": "Reject",
        "action_pay": "Pay",
        "export": "Export CSV",
        "export_excel": "CSV for Excel",
        "no_runs": "No payout runs yet.",
        "approval_queue": "Waiting for your approval",
        "subject": "Subject",
        "kind": "Kind",
        "rep": "Rep",
        "queue_empty": "Nothing waits for a decision.",
        "kind_target": "target change",
        "about_target": "{kpi} target {value}: {reason}",
        "about_run": "payout run of {count} rep(s), paying {paying}",
        "kind_adjustment": "adjustment",
        "kind_case": "red-line case",
        "kind_run": "payout run",
        "dispute_queue": "Open disputes",
        "outcome_upheld": "Upheld",
        "outcome_rejected": "Rejected",
        "amount_upheld": "Adjustment if upheld (signed)",
        "note": "Note",
        "reject_note": "Why (required: the rejection records it)",
        "reject_note_missing": "Say why: a rejection records its reason.",
        "upheld_needs_amount": "An upheld dispute books an adjustment: give its amount (not 0).",
        "amount_invalid": (
            "Amount: give a number like 1,250.00 or -300 (at most 2 decimals, "
            "below 1,000,000,000,000)."
        ),
        "outcome_missing": "Outcome: choose upheld or rejected.",
        "resolve_note_missing": "Note: say why; the resolution records it.",
        "not_yours_to_decide": "recorded by you: another must decide",
        "resolve": "Resolve",
        "no_open_disputes": "No open disputes.",
        "confirm_decision": "Confirm the decision",
        "will_calculate": (
            "This computes and records a payout run for {period}: every rep whose {period} is "
            "neither paid nor in another open run. Nothing is paid until the run is approved "
            "by someone else and then paid."
        ),
        "period_invalid": "Write the period as a month (2026-07) or a quarter (2026-Q3).",
        "now_figure": "now {amount}",
        "dispute_paid": "The run paid {period}: {amount} {currency}.",
        "run_column": "In the run",
        "reps_more": "and {count} more reps",
        "run_changed_since": (
            "Since this run was calculated, later events changed what {count} of its reps' "
            "periods would pay now. The run pays what it calculated; once it is paid, each "
            "difference comes as a correction in a later period."
        ),
        "summary_now_hint": (
            "“now”: what a period held by an open run would pay today (attainment and tier are "
            "today's too). The run pays what it calculated; once it is paid, the difference comes "
            "as a correction in a later period."
        ),
        "run_covers_nobody": (
            "No rep has an unpaid {period} outside another open run: there is no run to calculate."
        ),
        "run_not_begun": (
            "{period} has not begun yet (it starts on {start}): nothing is earned in it so far. "
            "Check the period before calculating."
        ),
        "run_not_ended": (
            "{period} has not ended yet (it ends on {end}): what its reps earn after this run "
            "is paid comes as a correction in a later period."
        ),
        "will_approve_run": (
            "This approves run {run_id}. It can then be paid; you cannot approve a run you "
            "calculated."
        ),
        "will_reject_run": "This rejects run {run_id}: it pays nobody, and its reps are free "
        "for another run.",
        "will_pay_run": (
            "This marks run {run_id} paid: its reps' periods are locked, and later changes "
            "are booked as corrections."
        ),
        "will_approve_item": "This approves the {kind} {subject} of rep {rep}: it then counts "
        "in the rep's pay.",
        "will_reject_item": "This rejects the {kind} {subject} of rep {rep}: it changes no pay.",
        "will_resolve_upheld": (
            "This upholds dispute {dispute} of rep {rep} and books an adjustment of {amount} "
            "in the rep's first unpaid period, to be approved by a second finance person."
        ),
        "will_resolve_rejected": "This rejects dispute {dispute} of rep {rep}; nothing is booked.",
        "confirm_calculate": "Calculate the run",
        "confirm_approve": "Approve",
        "confirm_reject": "Reject",
        "confirm_pay": "Pay the run",
        "confirm_resolve": "Resolve the dispute",
        "done_calculate": "Run {subject} calculated.",
        "done_approve": "{subject} approved.",
        "done_reject": "{subject} rejected.",
        "done_pay": "Run {subject} paid.",
        "done_resolve": "Dispute {subject} resolved.",
    },
    "zh-CN": {
        "app_name": "激励台账",
        "skip": "跳到正文",
        "nav_pay": "我的薪酬",
        "nav_overview": "总览",
        "nav_docs": "接口",
        "signed_in_as": "已登录：{actor} · {role}",
        "sign_out": "退出",
        "language": "语言",
        "home_title": "欢迎",
        "home_nothing": "角色 {role} 暂无页面；请使用接口。",
        "home_signed_out": "您已退出。",
        "home_how": (
            "请向管理员索取登录链接"
            "（incentive-ledger token create --actor 名称 --role 角色 --link）。"
        ),
        "signin_failed_title": "此登录链接无效",
        "signin_failed": (
            "登录链接只能使用一次，有效期 15 分钟。此链接已使用、已过期或不存在。请重新索取。"
        ),
        "signin_title": "登录",
        "signin_as": "以 {actor}（{role}）身份登录",
        "signin_once": "此链接只能使用一次：点击按钮即会使用。",
        "error_cross_site": "此登录请求并非来自本站页面。请重新打开您的登录链接。",
        "pay_title": "{rep} 的薪酬",
        "pay_intro": "您有记录的期间及最近一年的期间，最新在前。打开期间查看对账单。",
        "pay_period_missed": "{period} 不是您的期间。",
        "period": "期间",
        "status": "状态",
        "total": "合计",
        "payable": "应付",
        "currency": "币种",
        "no_periods": "暂无对账单。",
        "estimate_title": "再成交一笔能增加多少？",
        "estimate_intro": "估算您当前未结期间的收入：不记录任何内容。",
        "estimate_amount": "金额",
        "estimate_category": "类别（可选）",
        "estimate_date": "日期（默认今天）",
        "estimate_submit": "估算",
        "estimate_before": "当前",
        "estimate_after": "加上这笔后",
        "estimate_nothing_recorded": "未记录任何内容：这只是估算。",
        "open_statement": "{period} 对账单",
        "disputes": "申诉",
        "dispute_id": "申诉",
        "run": "批次",
        "message": "内容",
        "outcome": "结果",
        "no_disputes": "暂无申诉。",
        "statement_title": "{period} 对账单",
        "back_to_pay": "返回全部期间",
        "summary": "摘要",
        "plan": "方案",
        "as_of": "截至位置",
        "attainment": "达成率",
        "score": "加权得分",
        "tier_coefficient": "档位系数",
        "lines": "明细",
        "line": "项目",
        "amount": "金额",
        "in_currency": "{head}（{currency}）",
        "target": "目标值",
        "about": "内容",
        "explanation": "说明",
        "show_explanation": "说明与事件",
        "steps_more": "已显示 {shown} / {count} 步。",
        "steps_all": "显示全部步骤",
        "events": "本项依据的事件",
        "event_type": "事件",
        "recorded_by": "记录人",
        "recorded_at": "记录时间（UTC）",
        "occurred_at": "发生时间",
        "approved_by": "批准人",
        "not_approved": "—",
        "events_more": "另有 {count} 个事件",
        "tier_ladder": "档位阶梯",
        "tier_from": "起始得分",
        "coefficient": "系数",
        "tier_reached": "已达到",
        "no_ladder": "此方案没有奖金档位。",
        "pending_title": "待批准",
        "pending_item": "{kind} {subject_id}：等待批准，暂不影响薪酬。",
        "pending_fx_item": "{kind} {subject_id}：等待汇率 {base}→{quote}，暂不影响薪酬。",
        "pending_paid": PHRASES["zh-CN"]["pending_paid"],
        "unreleased": "已赚取、尚未释放（按回款计提）",
        "no_pending": "没有待批准事项。",
        "paid_vs_now": "已付与现值",
        "paid_column": "已付",
        "now_column": "现值",
        "change_column": "变化",
        "later_events": "之后改变本期间应付金额的事件",
        "later_withheld": "其他您无权查看的事件",
        "correction_to": "差额作为更正记入 {period}。",
        "paid_by": "已由批次 {run_id} 支付。",
        "dispute_line": "申诉此项",
        "dispute_message": "此项有什么问题？",
        "dispute_continue": "下一步",
        "dispute_only_paid": "已支付期间的项目可以申诉。",
        "negative_carried": "负的合计不予支付：它作为结转余额计入该销售代表的下一期间。",
        "confirm_title": "确认申诉",
        "confirm_what": (
            "将为销售代表 {rep} 就支付批次 {run_id}（{period}，项目 {line}）"
            "记录一条申诉，内容如下。财务将进行审核。"
        ),
        "confirm_yes": "提交申诉",
        "confirm_no": "取消",
        "dispute_raised": "申诉 {subject} 已提交，财务将进行审核。",
        "overview_title": "总览",
        "overview_period": "期间",
        "choose_period": "显示",
        "period_typed": "其他期间",
        "period_typed_hint": "如 2026-07 或 2026-Q3；最早：{first}",
        "period_missed": "{period} 在此没有结算单：显示 {shown}。",
        "distribution": "达成率分布",
        "bucket": "达成率",
        "reps": "人数",
        "payouts_by_team": "按团队和期间的支付",
        "payouts_unstored": (
            "{period}：{count} 位在本期没有任何记录的销售代表已计入上方的分布，但未计入本表"
            "（本表汇总已存储的结算单）；期间汇总列出了他们。"
        ),
        "payouts_unstored_link": "{period} 的期间汇总",
        "team": "团队",
        "no_team": "（无团队）",
        "payouts_paid": "已支付",
        "payouts_in_run": "待支付批次中",
        "payouts_open": "未入批次",
        "payouts_all": "应付合计",
        "payouts_columns": (
            "待支付批次中：已计算或已批准、尚未支付的批次将支付的金额（按批次记录）。"
            "未入批次：当前应付、尚未进入任何批次的金额。"
        ),
        "tier_counts": "档位人数",
        "red_lines": "红线案件",
        "severity_red_line": "红线",
        "case_status": "状态",
        "count": "数量",
        "health": "投影与审计链",
        "position": "链头位置",
        "projected": "投影位置",
        "lag": "滞后（事件数）",
        "chain": "审计链",
        "chain_ok": "完好，至位置 {verified}",
        "chain_checked": "刚检查了 {checked} 个新链节",
        "chain_unverified": "还有 {count} 个较新的链节未检查：下次查看时从那里继续",
        "chain_broken": "在位置 {position} 断裂：{reason}",
        "no_data": "本期间暂无数据。",
        "no_target": "无目标",
        "chart_note": "图表依据下表绘制。",
        "status_open": "未结",
        "status_calculated": "已计算",
        "status_approved": "已批准",
        "status_rejected": "已驳回",
        "status_paid": "已支付",
        "status_corrected": "已更正",
        "case_approved": "已批准",
        "case_pending": "待批准",
        "case_rejected": "已驳回",
        "case_overturned": "已撤销",
        "error_title": "出现问题",
        "error_404": "未找到。",
        "error_403": "您的角色无权打开此页面。",
        "error_csrf": "表单已过期或并非来自本站。请返回重试。",
        "error_signin": "请先登录。",
        "refused_self_approval": "此事项由您本人记录：须由他人决定。",
        "refused_decided": "此事项已有决定。",
        "refused_chain": "审计链已损坏：修复之前拒绝一切发放操作。",
        "refused_tampered": "一份已发放的结算单与记录不再一致。",
        "refused_conflict": "这与账本中已有的记录相矛盾。",
        "refused_unavailable": "无法连接账本；未记录任何内容。",
        "refused_invalid": "账本拒绝了此操作；未记录任何内容。",
        "refused_detail": "详情（英文）",
        "estimate_refused": "无法按所填内容估算这笔销售：",
        "go_home": "首页",
        "nav_team": "团队",
        "nav_cases": "案件",
        "team_title": "团队",
        "team_reps": "销售代表",
        "team_waiting": "待决定的目标与案件",
        "cases_title": "案件",
        "cases_waiting": "待您决定的红线案件",
        "cases_by_status": "按严重程度和状态的案件",
        "cases_all": "全部案件",
        "severity": "严重程度",
        "case": "案件",
        "description": "描述",
        "case_not_required": "无需批准",
        "history_title": "{rep} 的纪律记录",
        "no_history": "无记录。",
        "history_entry": "案件",
        "history_kind": "事件",
        "evidence": "证据",
        "history_recorded": "记录（UTC）",
        "history_decision": "决定（UTC）",
        "sanction": "处分",
        "entry_case": "违规，{severity}",
        "entry_overturned": "申诉撤销",
        "entry_coaching": "辅导",
        "decided_by_at": "{actor} 于 {at} {status}",
        "overturned_by_at": "{actor} 于 {at} 撤销",
        "decision_note": "审批意见：{note}",
        "payouts_title": "支付",
        "nav_payouts": "支付",
        "period_summary": "期间汇总",
        "team_subtotals": "团队小计",
        "summary_shown": "第 {first}–{last} 位，共 {total} 位销售代表。",
        "summary_previous": "上一页",
        "summary_next": "下一页",
        "runs": "支付批次",
        "calculate": "计算批次",
        "calculated_by": "计算人",
        "decided_by": "审批人",
        "actions": "操作",
        "action_approve": "批准",
        "action_reject": "驳回",
        "action_pay": "支付",
        "export": "导出 CSV",
        "export_excel": "CSV（Excel 用）",
        "no_runs": "暂无支付批次。",
        "approval_queue": "待您审批",
        "subject": "事项",
        "kind": "类型",
        "rep": "销售代表",
        "queue_empty": "没有待审批事项。",
        "kind_target": "目标变更",
        "about_target": "{kpi} 目标 {value}：{reason}",
        "about_run": "{count} 名销售代表的支付批次，支付 {paying}",
        "kind_adjustment": "调整",
        "kind_case": "红线案件",
        "kind_run": "支付批次",
        "dispute_queue": "未结申诉",
        "outcome_upheld": "支持",
        "outcome_rejected": "驳回",
        "amount_upheld": "支持时的调整金额（可为负）",
        "note": "备注",
        "reject_note": "原因（必填：驳回时一并记录）",
        "reject_note_missing": "请说明原因：驳回须记录理由。",
        "upheld_needs_amount": "支持申诉会记入一笔调整：请填写金额（不能为 0）。",
        "amount_invalid": (
            "金额：请填写如 1,250.00 或 -300 的数字（最多两位小数，绝对值小于一万亿）。"
        ),
        "outcome_missing": "结果：请选择支持或驳回。",
        "resolve_note_missing": "备注：请说明理由，处理结果会一并记录。",
        "not_yours_to_decide": "由您记录：须由他人审批",
        "resolve": "处理",
        "no_open_disputes": "没有未结申诉。",
        "confirm_decision": "确认决定",
        "will_calculate": (
            "将计算并记录 {period} 的支付批次：包括 {period} 既未支付、也不在其他未结批次中的"
            "全部销售代表。批次须由他人批准后方可支付。"
        ),
        "period_invalid": "期间请写作月份（2026-07）或季度（2026-Q3）。",
        "now_figure": "现为 {amount}",
        "dispute_paid": "该批次支付了 {period}：{amount} {currency}。",
        "run_column": "批次金额",
        "reps_more": "另有 {count} 名销售代表",
        "run_changed_since": (
            "本批次计算之后，后续事件改变了其中 {count} 名销售代表的期间按现在计算的应付金额。"
            "批次按计算时的金额支付；支付后，各项差额将作为更正计入之后的期间。"
        ),
        "summary_now_hint": (
            "“现为”：由未结批次占用的期间按今天计算应付的金额（达成率和档位也是今天的）。"
            "批次按其计算时的金额支付；支付后，差额将作为更正计入之后的期间。"
        ),
        "run_covers_nobody": "没有销售代表的 {period} 既未支付又不在其他未结批次中：无批次可计算。",
        "run_not_begun": "{period} 尚未开始（{start} 开始），目前没有任何收入。计算前请核对期间。",
        "run_not_ended": (
            "{period} 尚未结束（{end} 结束）：本批次支付后销售代表再赚取的金额，"
            "将作为更正计入之后的期间。"
        ),
        "will_approve_run": "将批准批次 {run_id}，之后即可支付；您不能批准自己计算的批次。",
        "will_reject_run": "将驳回批次 {run_id}：不支付任何人，其销售代表可进入其他批次。",
        "will_pay_run": "将把批次 {run_id} 标记为已支付：相关期间锁定，之后的变化记为更正。",
        "will_approve_item": "将批准销售代表 {rep} 的{kind} {subject}，之后计入其薪酬。",
        "will_reject_item": "将驳回销售代表 {rep} 的{kind} {subject}，不影响薪酬。",
        "will_resolve_upheld": (
            "将支持销售代表 {rep} 的申诉 {dispute}，并在其首个未支付期间记入调整 {amount}，"
            "须由另一位财务人员批准。"
        ),
        "will_resolve_rejected": "将驳回销售代表 {rep} 的申诉 {dispute}，不记入任何金额。",
        "confirm_calculate": "计算批次",
        "confirm_approve": "批准",
        "confirm_reject": "驳回",
        "confirm_pay": "支付批次",
        "confirm_resolve": "处理申诉",
        "done_calculate": "批次 {subject} 已计算。",
        "done_approve": "{subject} 已批准。",
        "done_reject": "{subject} 已驳回。",
        "done_pay": "批次 {subject} 已支付。",
        "done_resolve": "申诉 {subject} 已处理。",
    },
}

# Role names as the pages show them.
_ROLES: Final[dict[str, dict[str, str]]] = {
    "en": {},
    "zh-CN": {
        "rep": "销售代表",
        "manager": "经理",
        "finance": "财务",
        "compliance": "合规",
        "integration": "集成",
        "admin": "管理员",
        "upheld": "已支持",
    },
}


def words(locale: str) -> dict[str, str]:
    """The page words of ``locale``."""
    return WORDS[locale]


def term(locale: str, value: object) -> str:
    """A value the ledger names (line kind, severity, role) in ``locale``'s words."""
    text = str(value)
    return _ROLES[locale].get(text) or TERMS[locale].get(text, text)


def choose_locale(request: Request) -> str:
    """The page's locale: ``?lang=`` (the switch), else the cookie it set, else
    ``Accept-Language`` (English when it names nothing served: a page is still
    better than a 406)."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if chosen in LOCALES:
            return str(chosen)
    try:
        return negotiate_locale(request.headers.get("accept-language"))
    except HTTPException:
        return "en"


def money(value: Any) -> str:
    """Money as the pages show it: grouped thousands, two decimals (the ledger's
    own minor units when it has more), a real minus sign."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    # not a number, or one no ledger amount is (NaN, 1e999999999, 1e-999999):
    # as it was given, never expanded digit by digit (nor a 500)
    if not amount.is_finite() or not -_SHOWN_DIGITS <= amount.adjusted() <= _SHOWN_DIGITS:
        return str(value)
    places, cut, negative = max(2, -int(amount.as_tuple().exponent)), "", amount < 0
    if places > _SHOWN_PLACES:  # as the words cut it (`policies.wording.money_shown`)
        amount = amount.quantize(_SHOWN_STEP, rounding=ROUND_DOWN, context=_CUT_CONTEXT)
        places, cut = _SHOWN_PLACES, "…"
    text = f"{amount.copy_abs():,.{places}f}{cut}"
    return f"−{text}" if negative else text


def ratio(value: Any) -> str:
    """A ratio as the statement gives it (4 decimals), or a dash when absent."""
    return "—" if value is None else str(value)


# A rep named on a page: the name, then the id in brackets — a space and ASCII
# brackets in English, full-width brackets in Chinese ("Li Wei (rep-li)",
# "李伟（rep-li）"): (before the brackets, opening, closing).
_REP_BRACKETS: Final = {"en": (" ", "(", ")"), "zh-CN": ("", "（", "）")}
NAME_SHOWN: Final = 80  # characters of a name a page shows (a name may have 10,000)
_ID_KEPT_WHOLE: Final = 24  # an id up to this long is never broken across lines


@dataclass(frozen=True)
class RepNames:
    """How a page names a rep: their name first, their id kept beside it (ids
    are what finance searches and what the API takes) — "Li Wei (rep-li)" —, or
    the id alone for a rep the directory has no name for. ``names``: rep id ->
    name, read once for the page (`projections.service.Reports.rep_names`),
    of the reps it shows only: the caller's scope decided which those are."""

    names: Mapping[str, str]
    locale: str

    def _name(self, rep_id: str) -> str | None:
        name = " ".join(self.names.get(rep_id, "").split())  # a line break is a space
        if not name:
            return None
        return name if len(name) <= NAME_SHOWN else name[: NAME_SHOWN - 1] + "…"

    def text(self, rep_id: str) -> str:
        """The rep as plain text (a page title, a label)."""
        name = self._name(rep_id)
        if name is None:
            return rep_id
        before, opening, closing = _REP_BRACKETS[self.locale]
        return f"{name}{before}{opening}{rep_id}{closing}"

    def __call__(self, rep_id: str) -> Markup:
        """The rep as HTML, escaped: the name wraps where it must; the id in its
        brackets stays whole (``rep-li`` is not broken at its hyphen), unless
        it is too long for a line; data (``data-raw``), not the page's words."""
        name = self._name(rep_id)
        whole = "rep-id" if len(rep_id) <= _ID_KEPT_WHOLE else "rep-id long"
        if name is None:
            return Markup('<span class="rep" data-raw><span class="{}">{}</span></span>').format(
                whole, rep_id
            )
        before, opening, closing = _REP_BRACKETS[self.locale]
        return Markup(
            '<span class="rep" data-raw><span class="rep-name">{}</span>{}'
            '<span class="{}">{}{}{}</span></span>'
        ).format(name, before, whole, opening, rep_id, closing)
