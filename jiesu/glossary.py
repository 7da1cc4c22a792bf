"""The domain's words: every term the pages, the API, the exports and the CLI show, in Chinese and in English.

One place for each word. A kind is a dict from the stored value (an enum's string value, a measure's key) to
its `Term`; a word shared by two kinds is one `Term` named once below (历史导入 is a step, a channel and a
callback's channel). The API, the exports and the CLI show the Chinese word (`label`, `labels`); the pages
show either, as the page's language says. The Babel catalogue (web/locales) holds the pages' other sentences;
`translations` feeds these words into it, so that `_("派单")` in a template says the glossary's English.

Pure: imports nothing from jiesu.

The words, as the hotline says them: 派单 dispatch, 签收 sign, 退单 return (退单审核通过 the return upheld),
延期 extension, 吹哨报到 whistle (summons), 答复 reply (a replied ticket is 已答复; 待回访 is the callback
queue, not a state), 回访 callback, 重办 reopen, 督办 escalation, 三率 the three rates, 直接答复 direct answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import NamedTuple

ZH, EN = "zh_CN", "en"


class Term(NamedTuple):
    zh: str  # the source language: what the API, the exports and the CLI show
    en: str

    def word(self, lang: str = ZH) -> str:
        return self.en if lang == EN else self.zh


# --- words shared by several kinds ---------------------------------------------------------------------

IMPORTED = Term("历史导入", "Imported history")  # a step, a ticket's channel, a callback's channel
WHISTLE = Term("吹哨报到", "Whistle (summons)")  # the step, and the role of a unit it summons
UPHELD_RETURN = Term("退单审核通过", "Return upheld")  # the step, and what the ticket counts as for the unit
STREET_LEVEL = Term("街乡镇", "Street / township")  # a unit's kind, a place's level, a ranking's level
COMMUNITY_LEVEL = Term("社区/村", "Community / village")  # a unit's kind, a place's level
VALID_CALLBACK = Term("有效回访", "Valid callbacks")
UNREACHABLE = Term("未联系上", "Unreachable")


# --- tickets -------------------------------------------------------------------------------------------

TICKET_STATE = {
    "new": Term("待派单", "To dispatch"),
    "dispatched": Term("待签收", "To sign"),
    "handling": Term("办理中", "Handling"),
    "returned": Term("退单待审", "Returned, in review"),
    "replied": Term("已答复", "Replied"),
    "closed": Term("已办结", "Closed"),
    "withdrawn": Term("已撤回", "Withdrawn"),
    "merged": Term("已并单", "Merged"),
}

STEP = {  # the workflow's steps, as the timeline and the API's list of actions name them
    "create": Term("受理", "Received"),
    "import": IMPORTED,
    "dispatch": Term("派单", "Dispatch"),
    "sign": Term("签收", "Sign"),
    "return": Term("退单", "Return"),
    "uphold_return": UPHELD_RETURN,
    "reject_return": Term("退单驳回", "Return rejected"),
    "note": Term("办理进展", "Progress note"),
    "request_extension": Term("申请延期", "Extension requested"),
    "approve_extension": Term("延期批准", "Extension approved"),
    "reject_extension": Term("延期驳回", "Extension rejected"),
    "whistle": WHISTLE,
    "summons_sign": Term("报到", "Report for duty"),
    "summons_report": Term("报到单位反馈", "Summoned unit reported"),
    "reply": Term("答复", "Reply"),
    "close": Term("办结", "Close"),
    "reopen": Term("重办", "Reopen"),
    "merge": Term("并单", "Merge"),
    "escalate": Term("督办", "Escalated"),
    "withdraw": Term("撤回", "Withdraw"),
    "add_info": Term("补充说明", "Details added"),
    "mark_overdue": Term("超期", "Overdue"),
    "queue_callback": Term("进入回访队列", "Queued for callback"),
    "suggest": Term("智能派单建议", "Dispatch suggestion"),
    "remove_attachment": Term("删除附件", "Attachment removed"),
}

CHANNEL = {  # how a request reached the city
    "hotline": Term("12345热线", "12345 hotline"),
    "app": Term("移动应用", "App"),
    "web": Term("网站", "Website"),
    "open311": Term("Open311", "Open311"),
    "import": IMPORTED,
}

UNIT_ROLE = {  # a unit's part in a ticket
    "main": Term("主办", "Main"),  # the ticket's main unit (Ticket.main_unit, not a ticket_units row)
    "co": Term("协办", "Co-handling"),
    "copy": Term("抄送", "Copy"),
    "summoned": WHISTLE,
}

SUMMONS_STATE = {
    "summoned": Term("待报到", "Summoned"),
    "signed": Term("已报到", "On duty"),
    "reported": Term("已反馈", "Part done"),
}

DEADLINE = {  # how a deadline stands (web.pages.deadline)
    "met": Term("按时", "On time"),
    "late": Term("超期完成", "Done late"),
    "overdue": Term("已超期", "Overdue"),
    "pending": Term("未到期", "Running"),
    "none": Term("—", "—"),
}


# --- requests and categories ---------------------------------------------------------------------------

REQUEST_TYPE = {
    "inquiry": Term("咨询", "Inquiry"),
    "help": Term("求助", "Request for help"),
    "complaint": Term("投诉", "Complaint"),
    "report": Term("举报", "Report"),
    "suggestion": Term("建议", "Suggestion"),
    "praise": Term("表扬", "Praise"),
}

URGENCY = {
    "emergency": Term("紧急", "emergency"),
    "normal": Term("一般", "normal"),
    "complex": Term("疑难", "complex"),
}


# --- units and people ----------------------------------------------------------------------------------

UNIT_KIND = {
    "centre": Term("热线中心", "Hotline centre"),
    "district_government": Term("区政府", "District government"),
    "street": STREET_LEVEL,
    "community": COMMUNITY_LEVEL,
    "department": Term("市级部门", "City department"),
    "department_branch": Term("区级部门", "District department"),
    "utility": Term("公共服务企业", "Public-service company"),
    "property_company": Term("物业公司", "Property company"),
}

ROLE = {
    "operator": Term("话务员", "Operator"),
    "dispatcher": Term("派单员", "Dispatcher"),
    "unit_handler": Term("承办人", "Unit handler"),
    "callback_agent": Term("回访员", "Callback agent"),
    "supervisor": Term("督办员", "Supervisor"),
    "community_worker": Term("社区工作者", "Community worker"),
    "admin": Term("管理员", "Administrator"),
    "citizen": Term("市民", "Citizen"),
}


# --- places: translated in their own context, where 区 is a District (the home page counts "districts") -----

AREA_KIND = {  # the NBS kinds, stored in Chinese (Area.kind), and 小区 for complexes
    "市": Term("市", "City"),
    "区": Term("区", "District"),
    "街道": Term("街道", "Subdistrict"),
    "镇": Term("镇", "Town"),
    "乡": Term("乡", "Township"),
    "地区": Term("地区", "Area"),
    "其他": Term("其他", "Other"),
    "社区": Term("社区", "Community"),
    "村": Term("村", "Village"),
    "类似居委会": Term("类似居委会", "Quasi-residents' committee"),
    "类似村委会": Term("类似村委会", "Quasi-villagers' committee"),
    "小区": Term("小区", "Residential complex"),
}

AREA_LEVEL = {
    "city": AREA_KIND["市"],
    "district": AREA_KIND["区"],
    "street": STREET_LEVEL,
    "community": COMMUNITY_LEVEL,
    "complex": AREA_KIND["小区"],
}


# --- callbacks and the assessment ----------------------------------------------------------------------

RESOLUTION = {
    "resolved": Term("已解决", "resolved"),
    "partly": Term("部分解决", "Partly resolved"),
    "unresolved": Term("未解决", "not resolved"),
}

SATISFACTION = {
    "satisfied": Term("满意", "Satisfied"),
    "basically": Term("基本满意", "Basically satisfied"),
    "unsatisfied": Term("不满意", "Unsatisfied"),
}

CALLBACK_CHANNEL = {
    "phone": Term("电话回访", "Phone callback"),
    "survey": Term("市民评价", "Citizen survey"),
    "import": IMPORTED,
}

ASSESSMENT_LEVEL = {  # what a ranking ranks
    "street": STREET_LEVEL,
    "district": Term("区", "Districts"),
    "department": Term("市级部门及公共服务企业", "City departments and public-service companies"),
}

SIGNED_IN_TIME = Term("按时签收", "Signed in time")
SIGNED_LATE = Term("超时签收", "Signed late")
NOT_SIGNED = Term("逾期未签收", "Not signed by the deadline")
SIGN_PENDING = Term("待签收（未到时限）", "Awaiting signature (deadline ahead)")
SIGN_UPHELD = Term("退单审核通过（不计入派单）", "Return upheld (not counted)")

FACT_KIND = {  # what a ticket counts as for a unit in a month
    "callback": VALID_CALLBACK,
    "unreachable": UNREACHABLE,
    "upheld_return": UPHELD_RETURN,
    "sign_on_time": SIGNED_IN_TIME,
    "sign_late": SIGNED_LATE,
    "sign_missed": NOT_SIGNED,
    "sign_pending": SIGN_PENDING,
    "sign_void": Term("未签收即并单或撤回", "Merged or withdrawn before the deadline"),
    "sign_returned": Term("退单待审", "Returned, in review"),  # the ticket state's word: the same thing
    "sign_upheld": SIGN_UPHELD,
}

RATE = {  # 三率 and the score made of them
    "response": Term("响应率", "Response rate"),
    "contact": Term("联系率", "Contact rate"),
    "resolution": Term("解决率", "Resolution rate"),
    "satisfaction": Term("满意率", "Satisfaction rate"),
    "composite": Term("综合得分", "Composite score"),
}

MEASURE = {  # a figure of a ranking whose tickets can be listed (assessment.MEASURES)
    "valid": VALID_CALLBACK,
    "contacted": Term("已联系市民", "Contacted the citizen"),
    "not_contacted": Term("未联系市民", "Did not contact the citizen"),
    **RESOLUTION,
    **SATISFACTION,
    "unreachable": UNREACHABLE,
    "upheld_return": UPHELD_RETURN,
    "excluded_category": Term("不纳入考核的类别", "Excluded categories"),
    # the response rate's (assessment.SIGN_MEASURES)
    "dispatched": Term("计入派单量", "Dispatches counted"),
    "signed": SIGNED_IN_TIME,
    "not_in_time": Term("未按时签收", "Not signed in time"),
    "late": SIGNED_LATE,
    "missed": NOT_SIGNED,
    "pending": Term("暂不计入（未到签收时限或退单待审）", "Not counted yet (deadline ahead, or return under review)"),
    "sign_upheld": SIGN_UPHELD,
}


# --- knowledge -----------------------------------------------------------------------------------------

ARTICLE_STATUS = {
    "draft": Term("草稿", "Draft"),
    "in_review": Term("待审核", "In review"),
    "published": Term("已发布", "Published"),
    "expired": Term("已失效", "Expired"),
}


# --- hot spots and surges (主动治理) ------------------------------------------------------------------------

DISMISSED = Term("已排除", "Dismissed")  # a hot spot's and a surge's status
MADE_PROJECT = Term("已立项", "Made a project")  # a hot spot's status; a project's first status (planned)

HOTSPOT_STATUS = {
    "open": Term("待处理", "Open"),
    "watched": Term("关注中", "Watched"),
    "project": MADE_PROJECT,
    "dismissed": DISMISSED,
}

HOTSPOT_LABEL = {  # the trend, as emerging-hot-spot analysis names it
    "new": Term("新出现", "New"),
    "intensifying": Term("加剧", "Intensifying"),
    "persistent": Term("持续", "Persistent"),
    "sporadic": Term("零星", "Sporadic"),
    "diminishing": Term("减弱", "Diminishing"),
}

SURGE_STATUS = {
    "raised": Term("待确认", "Raised"),
    "acknowledged": Term("已确认", "Acknowledged"),
    "dismissed": DISMISSED,
}


# --- topics of the month and projects (issue 18) --------------------------------------------------------

TOPIC_STATUS = {
    "adopted": Term("已立题", "Adopted"),
    "closed": Term("已结题", "Closed (topic)"),
}

PROJECT_STATUS = {
    "planned": MADE_PROJECT,
    "underway": Term("实施中", "Underway"),
    "done": Term("已完成", "Done"),
    "cancelled": Term("已撤销", "Cancelled"),
}

PROJECT_STEP = {
    "create": Term("立项", "Project created"),
    "start": Term("开始实施", "Start the works"),
    "finish": Term("完成", "Finish"),
    "cancel": Term("撤销", "Cancel"),
    "update": Term("进展", "Progress update"),
    "milestone": Term("里程碑", "Milestone"),
    "link": Term("关联工单", "Linked tickets"),
    "adopt": Term("立题", "Topic adopted"),  # a topic's events
    "close": Term("结题", "Topic closed"),
}


KINDS: dict[str, Mapping[str, Term]] = {
    "ticket_state": TICKET_STATE, "step": STEP, "channel": CHANNEL, "unit_role": UNIT_ROLE,
    "summons_state": SUMMONS_STATE, "deadline": DEADLINE, "request_type": REQUEST_TYPE, "urgency": URGENCY,
    "unit_kind": UNIT_KIND, "role": ROLE, "area_kind": AREA_KIND, "area_level": AREA_LEVEL,
    "resolution": RESOLUTION, "satisfaction": SATISFACTION, "callback_channel": CALLBACK_CHANNEL,
    "assessment_level": ASSESSMENT_LEVEL, "fact_kind": FACT_KIND, "rate": RATE, "measure": MEASURE,
    "article_status": ARTICLE_STATUS,
    "hotspot_status": HOTSPOT_STATUS, "hotspot_label": HOTSPOT_LABEL, "surge_status": SURGE_STATUS,
    "topic_status": TOPIC_STATUS, "project_status": PROJECT_STATUS, "project_step": PROJECT_STEP,
}
PLACE_KINDS = ("area_kind", "area_level")  # the pages translate these in the place-kind context


def _key(value: object) -> str:
    return value.value if isinstance(value, Enum) else str(value)


def label(kind: str, value: object, lang: str = ZH) -> str:
    """The word for one value of a kind (an enum member or its string value); a value the glossary does not
    know shows as it is."""
    term = KINDS[kind].get(_key(value))
    return term.word(lang) if term else _key(value)


def labels(kind: str, keys: Iterable[object] | None = None, lang: str = ZH) -> dict:
    """{key: word} for `keys` (an enum class gives its members, in order), default every value of the kind.
    A key the glossary lacks is a KeyError: these dicts stand for complete lists."""
    terms = KINDS[kind]
    return {k: terms[_key(k)].word(lang) for k in (terms if keys is None else keys)}


def translations(lang: str, kinds: Iterable[str] | None = None) -> dict[str, str]:
    """{Chinese word: its word in `lang`} over these kinds (default: all but the places'), for the Babel
    catalogue. A Chinese word has one English word; two would make `_()` ambiguous, and are refused."""
    out: dict[str, str] = {}
    for kind in kinds if kinds is not None else (k for k in KINDS if k not in PLACE_KINDS):
        for term in KINDS[kind].values():
            word = term.word(lang)
            if out.setdefault(term.zh, word) != word:
                raise ValueError(f"{term.zh} has two words in {lang}: {out[term.zh]!r} and {word!r}")
    return out
