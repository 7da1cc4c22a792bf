"""Why a step was refused, said to a person in their language: the workflow's refusals (tickets.rules and
tickets.workflow raise them in English, for programs and logs) matched to sentences in Chinese. The pages show
them inline; the API answers them in Chinese to a client whose Accept-Language asks for it.

Pure: no models. One table, in the order the patterns are tried. tests/unit/test_refusals.py reads every `raise`
of tickets/workflow.py, tickets/rules.py and tickets/attachments.py and checks that each has its sentence here."""

from __future__ import annotations

import re

from jiesu import glossary

# (error code or "*", field or "*", pattern of the English message, the Chinese sentence). The sentence may
# name the pattern's groups: {step}, {state}, {allowed}, {units} ... Steps and states are put in Chinese
# from the glossary before the sentence is filled in.
TABLE: list[tuple[str, str, str, str]] = [
    ("transition_not_allowed", "state",
     r"cannot (?P<step>\w+) a ticket that is (?P<state>\w+) \(only from: (?P<allowed>[\w, ]+)\)",
     "工单当前为「{state}」，不能{step}（仅在「{allowed}」时可以）。页面已刷新，请查看最新状态。"),
    ("*", "*", r"(?P<step>\w+) is not a step of the workflow", "「{step}」不是工单流程中的操作。"),
    ("permission_denied", "*", r"role (?P<role>\w+) may not (?P<step>\w+)", "您的角色（{role}）不能{step}。"),
    ("permission_denied", "*", r"role (?P<role>\w+) may not (?P<permission>[\w.]+)",
     "您的角色（{role}）无权执行此操作。"),
    ("permission_denied", "ticket", r"only the (?P<party>[\w ]+) may (?P<step>\w+) this ticket",
     "只有{party}可以{step}此工单。"),
    ("permission_denied", "*", r"log in to attach files", "请先登录再上传附件。"),
    ("invalid_input", "*", r"(?P<step>\w+) needs (?P<need>\w+)", "{step}需要填写{need}。"),
    ("concurrent_change", "*", r".*", "工单已被他人修改，或此操作已经提交过。页面已刷新为最新状态，请确认后再操作。"),
    ("*", "*", r"the summoned units have not all reported: (?P<units>.+)",
     "被召集的单位尚未全部反馈（{units}），暂不能答复。"),
    ("*", "*", r"an extension request is already waiting for the centre", "已有一条延期申请等待审批。"),
    ("*", "*", r"no extension request is waiting", "没有待审批的延期申请。"),
    ("*", "*", r"days must be more than 0 and at most (?P<max>[\d.]+)", "延期天数须大于 0 且不超过 {max} 个工作日。"),
    ("*", "*", r"days must be a number of business days", "延期天数须填写数字（工作日）。"),
    ("*", "*", r"at most (?P<n>\d+) units in one step", "一次最多选择 {n} 个单位。"),
    ("*", "*", r"a unit cannot summon itself", "不能召集本单位。"),
    ("*", "*", r"every unit named is summoned already", "所选单位都已被召集。"),
    ("*", "*", r"this unit has reported for duty already", "本单位已报到。"),
    ("*", "*", r"this unit has reported its part already", "本单位已反馈。"),
    ("*", "*", r"re-dispatch to another unit.*", "改派须选择另一个单位；若仍由原单位办理，请驳回退单。"),
    ("*", "*", r"unit (?P<code>\S+) is inactive", "单位 {code} 已停用。"),
    ("*", "*", r"the centre does not handle tickets itself", "市级中心不直接承办工单，请选择承办单位。"),
    ("*", "*", r"no unit(?: with code)? (?P<code>\S+)", "找不到单位 {code}，请从列表中选择。"),
    ("*", "*", r"no category(?: with code)? (?P<code>\S+)", "找不到分类 {code}，请从列表中选择。"),
    ("*", "*", r"no ticket (?P<number>\S+)", "找不到工单 {number}。"),
    ("*", "*", r"merge into another ticket that is still open", "只能并入另一张未办结的工单。"),
    ("*", "callback", r"a replied ticket is closed by its callback: .*",
     "已答复的工单经回访办结：请在回访台录入市民的回访结果。"),
    ("*", "*", r"the citizen asked for no callback: .*", "市民不需回访：直接办结时不填写回访结果。"),
    ("*", "*", r"deadline is sign or reply", "超期环节只能是签收或答复。"),
    ("*", "*", r"only JPEG, PNG, GIF, WebP photos and PDF documents are accepted",
     "只能上传 JPEG、PNG、GIF、WebP 照片或 PDF 文件。"),
    ("*", "*", r"a ticket holds at most (?P<n>\d+) files", "每张工单最多 {n} 个附件。"),
    ("*", "*", r"the file is empty", "文件为空。"),
    ("*", "*", r"the file is (?P<size>\d+) bytes; at most (?P<limit>\d+) are accepted",
     "文件过大（{size} 字节），最多 {limit} 字节。"),
    ("*", "*", r"no attachment (?P<id>\S+)", "找不到附件 {id}。"),
    ("*", "*", r"attachment (?P<id>\S+) is recorded but its file is missing", "附件 {id} 的文件已丢失。"),
    ("*", "*", r"urgency is emergency, normal or complex", "紧急程度只能是紧急、一般或疑难复杂。"),
    ("*", "*", r"the file needs a name", "文件需要有文件名。"),
    ("*", "*", r"a file name is one name, without folders, `\.\.` or a leading dot",
     "文件名只能是一个名称，不能含文件夹、“..”或以“.”开头。"),
    ("*", "*", r"the file is (?P<kind>\S+): its name must end in (?P<ends>.+)",
     "文件内容为 {kind}，文件名须以 {ends} 结尾。"),
    ("*", "*", r"a file name has at most (?P<n>\d+) characters", "文件名最多 {n} 个字符。"),
    ("permission_denied", "*", r"only those who take part in an open ticket may attach files to it",
     "只有参与办理这张未办结工单的人员可以上传附件。"),
    ("permission_denied", "*", r"only the uploader or the handling unit may remove a file, while the ticket is open",
     "只有上传人或主办单位可以在工单办结前删除附件。"),
    ("*", "*", r"ticket (?P<number>\S+) has no attachment (?P<id>\S+)", "工单 {number} 没有附件 {id}。"),
    ("invalid_input", "*", r"(?P<need>\w+) has at most (?P<n>\d+) characters", "{need}最多 {n} 字，未保存。"),
]
FIELD_NAMES = {"reason": "理由", "text": "内容", "unit": "承办单位", "units": "被召集单位", "co_units": "协办单位",
               "days": "延期天数", "parent": "主工单编号", "category": "分类", "file": "附件",
               "deadline": "超期环节", "suggestion": "派单建议"}
PARTIES = {"main unit": "主办单位", "summoned unit": "被召集单位", "creator": "诉求人"}
ROLES_ZH = {"anonymous": "未登录"}
FALLBACK = {"transition_not_allowed": "工单当前状态不允许此操作。", "permission_denied": "您无权对此工单执行此操作。",
            "invalid_input": "输入有误，请检查后重试。", "concurrent_change": TABLE[7][3],
            "ticket_not_found": "找不到此工单。"}
GENERIC = "无法办理，请检查后重试。"
_COMPILED = [(code, field, re.compile(pattern), zh) for code, field, pattern, zh in TABLE]


def known(code: str, field: str | None, message: str) -> str | None:
    """The Chinese sentence the table has for this refusal, or None if no pattern matches."""
    for c, f, pattern, zh in _COMPILED:
        if c not in ("*", code) or f not in ("*", field or ""):
            continue
        m = pattern.fullmatch(message)
        if m is None:
            continue
        args = m.groupdict()
        if "step" in args:
            args["step"] = glossary.label("step", args["step"])
        if "state" in args:
            args["state"] = glossary.label("ticket_state", args["state"])
        if "allowed" in args:
            args["allowed"] = "、".join(glossary.label("ticket_state", s.strip()) for s in args["allowed"].split(","))
        if "role" in args:
            args["role"] = ROLES_ZH.get(args["role"]) or glossary.label("role", args["role"])
        if "party" in args:
            args["party"] = PARTIES.get(args["party"], args["party"])
        if "need" in args:
            args["need"] = FIELD_NAMES.get(args["need"], args["need"])
        return zh.format(**args)
    return None


def in_chinese(code: str, field: str | None, message: str) -> str:
    """The Chinese sentence for a refusal (its error code, field and English message); a refusal the table does
    not know gets the sentence of its kind (its code)."""
    return known(code, field, message) or FALLBACK.get(code, GENERIC)


def wants_chinese(accept_language: str | None) -> bool:
    """Whether an HTTP client's Accept-Language prefers Chinese (zh, zh-CN, zh-Hans ...) to English: the language
    of highest weight among the two wins; a tie goes to the one named first."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -i) > best[:2]):
            best = (q, -i, primary)
    return best is not None and best[2] == "zh"
