"""Every refusal a person can meet on a ticket has its sentence in Chinese: the test reads each `raise` of the
workflow (tickets/workflow.py, tickets/rules.py, tickets/attachments.py, and the step form's own checks in
web/ticket_pages.py), fills its message with a sample value per placeholder, and asks refusals.known for it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jiesu.tickets import refusals

ROOT = Path(__file__).resolve().parents[2] / "jiesu"
SOURCES = ["tickets/workflow.py", "tickets/rules.py", "tickets/attachments.py", "web/ticket_pages.py"]
# A sample for each expression the messages interpolate (ast.unparse of it). A new placeholder makes the test
# fail until it gets a sample here, and its message a sentence in refusals.TABLE.
SAMPLES = {
    "action.value": "sign", "state.value": "dispatched", "allowed": "handling, new", "number": "20230311-000123",
    "ticket.version": "4", "data.expected_version": "3", "code": "gys-110115", "MAX_EXTENSION_DAYS": "30",
    "data.parent": "20230311-000124", "', '.join(waiting)": "北京市公安局大兴区分局, 区城管执法局",
    "role.value if role else 'anonymous'": "citizen", "t.party.value.replace('_', ' ')": "main unit",
    "name": "reason", "len(data)": "123456789", "limit": "10485760", "MAX_PER_TICKET": "20",
    "attachment_id": "7", "MAX_UNITS": "20", "kind": "application/pdf", "ends": ".pdf",
}
# Codes of the domain errors raised, by class name.
CODES = {"TransitionNotAllowed": "transition_not_allowed", "NotAllowedNow": "transition_not_allowed",
         "PermissionDenied": "permission_denied", "NotYourTicket": "permission_denied",
         "InvalidInput": "invalid_input", "MissingInput": "invalid_input", "ConcurrentChange": "concurrent_change",
         "NotFound": "not_found", "TicketNotFound": "ticket_not_found"}


def raised() -> list[tuple[str, str, str | None, str]]:
    """(where, code, field, message with samples) for every `raise X("...", field=...)` in SOURCES."""
    out = []
    for source in SOURCES:
        tree = ast.parse((ROOT / source).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            cls = node.exc.func.id if isinstance(node.exc.func, ast.Name) else None
            arg = node.exc.args[0]
            if cls not in CODES or not isinstance(arg, ast.Constant | ast.JoinedStr):
                continue
            field = next((k.value.value for k in node.exc.keywords if k.arg == "field"
                          and isinstance(k.value, ast.Constant)), None)
            out.append((f"{source}:{node.lineno}", CODES[cls], field, sample(arg)))
    return out


def sample(arg: ast.expr) -> str:
    if isinstance(arg, ast.Constant):
        return str(arg.value)
    parts = []
    for value in arg.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
        else:
            expr = ast.unparse(value.value)
            assert expr in SAMPLES, f"no sample for {{{expr}}}: add one to SAMPLES"
            parts.append(SAMPLES[expr])
    return "".join(parts)


REFUSALS = raised()


def test_the_sources_are_read():
    assert len(REFUSALS) >= 25  # a broken reader would find none and pass the test below vacuously


@pytest.mark.parametrize(("where", "code", "field", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_every_refusal_has_its_chinese_sentence(where, code, field, message):
    zh = refusals.known(code, field, message)
    assert zh, f"{where}: no Chinese sentence for {message!r}"
    assert zh != message and any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh


@pytest.mark.parametrize(("code", "field", "message", "expected"), [
    ("transition_not_allowed", "state", "cannot reply a ticket that is dispatched (only from: handling)",
     "工单当前为「待签收」，不能答复（仅在「办理中」时可以）。页面已刷新，请查看最新状态。"),
    ("permission_denied", "role", "role citizen may not dispatch", "您的角色（市民）不能派单。"),
    ("permission_denied", "ticket", "only the main unit may sign this ticket", "只有主办单位可以签收此工单。"),
    ("permission_denied", None, "role anonymous may not tickets.read", "您的角色（未登录）无权执行此操作。"),
    ("invalid_input", "reason", "return needs reason", "退单需要填写理由。"),
    ("invalid_input", "units", "whistle needs units", "吹哨报到需要填写被召集单位。"),
    ("transition_not_allowed", "units", "the summoned units have not all reported: 区城管执法局, 区住建委",
     "被召集的单位尚未全部反馈（区城管执法局, 区住建委），暂不能答复。"),
    ("invalid_input", "unit", "no unit with code xx-1", "找不到单位 xx-1，请从列表中选择。"),
    ("invalid_input", "category", "no category with code 99.99", "找不到分类 99.99，请从列表中选择。"),
    ("invalid_input", "days", "days must be more than 0 and at most 30", "延期天数须大于 0 且不超过 30 个工作日。"),
    ("concurrent_change", "expected_version", "ticket 1 is at version 4, not 3: reload it",
     "工单已被他人修改，或此操作已经提交过。页面已刷新为最新状态，请确认后再操作。"),
])
def test_sentences(code, field, message, expected):
    assert refusals.in_chinese(code, field, message) == expected


def test_an_unknown_refusal_gets_the_sentence_of_its_kind():
    assert refusals.known("invalid_input", "x", "something new") is None
    assert refusals.in_chinese("invalid_input", "x", "something new") == "输入有误，请检查后重试。"
    assert refusals.in_chinese("what", None, "something new") == refusals.GENERIC


@pytest.mark.parametrize(("header", "chinese"), [
    ("zh-CN", True), ("zh", True), ("zh-Hans-CN,zh;q=0.9", True), ("zh-CN,zh;q=0.9,en;q=0.8", True),
    ("en-US,en;q=0.9,zh-CN;q=0.8", False), ("en;q=0.5,zh;q=0.9", True), ("", False), (None, False),
    ("fr-FR", False), ("zh;q=0", False), ("de, zh-TW", True), ("en, zh", False), ("zh;q=abc", False),
])
def test_accept_language(header, chinese):
    assert refusals.wants_chinese(header) is chinese
