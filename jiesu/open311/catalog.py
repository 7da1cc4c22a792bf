"""Which Open311 services ask for more than a description and a place, and what: the attribute definitions.

Pure data and checks, no database. A service is a leaf category of the taxonomy (e.g. 城乡建设 / 城市建设和市政管理
/ 自来水供应); the categories named here carry the attributes listed for them, every other service has none
(`metadata` false). The answers are checked here, kept on the submission, and written into the request's text
so that the unit handling the ticket reads them; an answer `DANGER=yes` makes the request an emergency.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from jiesu import inputs

STRING = "string"
NUMBER = "number"
DATETIME = "datetime"
TEXT = "text"
SINGLE = "singlevaluelist"
MULTI = "multivaluelist"
DATATYPES = (STRING, NUMBER, DATETIME, TEXT, SINGLE, MULTI)
MAX_STRING = 200
MAX_TEXT = 2000

# The definitions' last change: a new or changed attribute must move this forward, so that clients that cache
# the definitions (discovery's `changeset`) fetch them again.
CHANGESET = "2026-11-25T00:00:00+08:00"


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    label: str  # short, for the request's text: 影响范围
    description: str  # the question shown to the citizen
    required: bool = False
    variable: bool = True  # False: information only, nothing is collected
    datatype_description: str | None = None
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for the list types

    def names(self) -> dict[str, str]:
        return dict(self.values)


YES_NO = (("yes", "是 (yes)"), ("no", "否 (no)"), ("unknown", "不确定 (not sure)"))
DANGER = Attribute("DANGER", SINGLE, "是否危及人身安全",
                   "是否危及人身安全，如漏气、漏电、爆管、起火？(Is anyone in danger: gas leak, live wire, burst main, "
                   "fire?) 选“是”按紧急诉求办理。", required=True, values=YES_NO)
SINCE = Attribute("SINCE", DATETIME, "开始时间", "从什么时候开始？(Since when?)",
                  datatype_description="ISO 8601, e.g. 2024-09-30T08:00:00+08:00")
SCOPE = Attribute("SCOPE", SINGLE, "影响范围", "影响范围 (How far does it reach?)", required=True,
                  values=(("household", "本户 (my home)"), ("building", "整栋楼 (the building)"),
                          ("complex", "整个小区或村 (the whole complex or village)"),
                          ("area", "周边多个小区 (several complexes around)")))


def _info(code: str, text: str) -> Attribute:
    return Attribute(code, TEXT, "提示", text, variable=False)


UTILITY = (SCOPE, DANGER, SINCE)
LINE_STATION = (Attribute("LINE", STRING, "线路", "哪条线路？如 300路、地铁10号线 (Which line?)", required=True),
                Attribute("STATION", STRING, "车站", "哪个车站或站点？(Which stop or station?)"))

# Leaf category name -> its attributes, in display order. The names are the taxonomy's (jiesu/data/teddy2020).
ATTRIBUTES: dict[str, tuple[Attribute, ...]] = {
    "自来水供应": UTILITY,
    "电力供应": UTILITY,
    "冬季采暖": UTILITY,
    "通信保障": UTILITY,
    "燃气供应": (_info("GAS_SAFETY", "闻到燃气味：请勿开关电器、不要动明火，立即开窗通风并离开现场，再报告。"
                                     "(Smell gas? Touch no switch, no flame: open the windows and leave first.)"),
             *UTILITY),
    "噪音污染": (
        Attribute("NOISE_SOURCE", SINGLE, "噪声来源", "噪声来自哪里？(Where does the noise come from?)", required=True,
                  values=(("construction", "施工 (construction)"), ("business", "商业经营 (a business)"),
                          ("neighbour", "邻里生活 (neighbours)"), ("traffic", "交通 (traffic)"),
                          ("other", "其他 (other)"))),
        Attribute("NOISE_TIME", MULTI, "发生时段", "什么时段？可多选 (When? Choose any)",
                  values=(("day", "白天 6–22时 (day)"), ("night", "夜间 22–6时 (night)"),
                          ("holiday", "周末节假日 (weekends, holidays)"))),
        SINCE),
    "大气污染": (Attribute("SMELL", TEXT, "现象", "看到或闻到了什么，持续多久？(What do you see or smell, and for how "
                                                  "long?)"),),
    "交通事故": (_info("ACCIDENT_CALL", "有人受伤请立即拨打 120，交通事故报警请拨打 122。"
                                       "(Anyone hurt: call 120; report the accident to the police: 122.)"),
             DANGER, Attribute("PLATE", STRING, "车牌号", "涉及车辆的车牌号 (Licence plate, if known)")),
    "消防安全": (_info("FIRE_CALL", "发生火灾请立即拨打 119。(A fire: call 119 now.)"), DANGER),
    "安全隐患": (DANGER,),
    "房屋租赁": (Attribute("GROUP_RENTAL", SINGLE, "疑似群租", "是否疑似群租？(A suspected group rental?)",
                       values=YES_NO),
             Attribute("OCCUPANTS", NUMBER, "居住人数", "大约住了多少人？(About how many people live there?)",
                       datatype_description="a whole number, e.g. 20")),
    "物业服务": (Attribute("COMPLEX", STRING, "小区名称", "哪个小区？(Which residential complex?)", required=True),
             Attribute("PROPERTY_COMPANY", STRING, "物业公司", "物业公司名称 (The property company, if known)")),
    "公共汽车": LINE_STATION,
    "地铁城铁": LINE_STATION,
    "城管执法": (Attribute("ISSUE", SINGLE, "问题类型", "什么问题？(What is it?)",
                       values=(("street_vending", "占道经营 (street vending)"),
                               ("illegal_building", "违法建设 (illegal building)"),
                               ("spoil", "渣土遗撒 (spilt spoil)"), ("posters", "小广告 (posters)"),
                               ("other", "其他 (other)"))),),
}

# Words a client can search the service list by, beyond the category's own names.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "自来水供应": ("停水", "水压", "水质", "爆管"),
    "电力供应": ("停电", "电压", "漏电"),
    "燃气供应": ("燃气", "天然气", "漏气"),
    "冬季采暖": ("供暖", "暖气", "不热"),
    "噪音污染": ("噪音", "扰民", "施工噪声"),
    "房屋租赁": ("群租", "租房"),
    "城管执法": ("占道经营", "违建", "小广告"),
    "环境卫生": ("垃圾", "保洁"),
    "园林绿化": ("树木", "绿地"),
    "基础设施": ("路面", "坑洼", "井盖", "路灯"),
}


def attributes_for(leaf_name: str) -> tuple[Attribute, ...]:
    return ATTRIBUTES.get(leaf_name, ())


@dataclass
class Answers:
    """Checked answers: what the submission keeps, the lines for the request's text, and the emergency flag."""

    # [{"code", "label", "value", "shown"}]: value the key(s) or the text given, shown what a person reads
    items: list[dict] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    emergency: bool = False


class BadAnswer(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


_LINE_BREAK = re.compile(r"[\r\n]")


def parse_datetime(value: str, tz: tzinfo) -> datetime:
    """A W3C / ISO 8601 datetime; one without a zone is read in the city's zone; its year in inputs' range (the
    one parser of every date the edge takes). Raises ValueError."""
    return inputs.moment(value, tz)


def check(definitions: tuple[Attribute, ...], given: dict[str, list[str]], tz: tzinfo) -> Answers:
    """Check the answers to a service's attributes: required ones present, list keys known, numbers numbers,
    datetimes datetimes. Answers to attributes the service does not have are ignored (clients such as
    FixMyStreet send extra ones). Raises BadAnswer naming the attribute."""
    out = Answers()
    for a in definitions:
        if not a.variable:
            continue
        values = [v.strip() for v in given.get(a.code, []) if v.strip()]
        if not values:
            if a.required:
                raise BadAnswer(a.code, f"attribute[{a.code}] is required: {a.description}")
            continue
        if a.datatype == MULTI:
            names = a.names()
            bad = [v for v in values if v not in names]
            if bad:
                raise BadAnswer(a.code, f"attribute[{a.code}]: {', '.join(bad)[:100]} is not one of "
                                              f"{', '.join(names)}")
            keys = list(dict.fromkeys(values))
            shown = "、".join(names[k].split(" (")[0] for k in keys)
            out.items.append({"code": a.code, "label": a.label, "value": keys, "shown": shown})
            out.lines.append(f"{a.label}：{shown}")
            continue
        if len(values) > 1:
            raise BadAnswer(a.code, f"attribute[{a.code}] takes one value, not {len(values)}")
        value = values[0]
        shown = value
        if a.datatype == SINGLE:
            names = a.names()
            if value not in names:
                raise BadAnswer(a.code, f"attribute[{a.code}]: {value[:50]!r} is not one of {', '.join(names)}")
            shown = names[value].split(" (")[0]
        elif a.datatype == NUMBER:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or len(value) > 32:
                raise BadAnswer(a.code, f"attribute[{a.code}] must be a number, not {value[:50]!r}")
        elif a.datatype == DATETIME:
            try:
                when = parse_datetime(value, tz)
            except ValueError:
                raise BadAnswer(a.code, f"attribute[{a.code}] must be an ISO 8601 datetime, e.g. "
                                              f"2024-09-30T08:00:00+08:00, not {value[:50]!r}") from None
            value = when.isoformat(timespec="seconds")
            shown = when.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        elif a.datatype == STRING:
            if len(value) > MAX_STRING or _LINE_BREAK.search(value):
                raise BadAnswer(a.code, f"attribute[{a.code}] is one line of at most {MAX_STRING} characters")
        elif len(value) > MAX_TEXT:
            raise BadAnswer(a.code, f"attribute[{a.code}] has at most {MAX_TEXT} characters")
        out.items.append({"code": a.code, "label": a.label, "value": value, "shown": shown})
        out.lines.append(f"{a.label}：{shown}")
        if a.code == DANGER.code and value == "yes":
            out.emergency = True
    return out
