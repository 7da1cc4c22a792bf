"""The demo simulator: a few thousand tickets over the last months, moved through the real workflow.

Every request is made with `tickets.service.create_request` and every later step with `tickets.service.act`,
under a FixedClock set to the moment the step happens, so the event log, the deadlines and the overdue flags
are what the real system would have written. The texts are real citizens' messages (the Teddy Cup 2020
corpus shipped in jiesu/data/teddy2020/, read by jiesu.data.teddy), their anonymised places (A市, A3区)
replaced by the ticket's own Beijing district and street.

Deterministic: the same seed, present moment, window and reference data give the same tickets, numbers and
timelines. Safe to call twice: when the database already holds demo requests it does nothing.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from random import Random
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jiesu.calendar.service import load_calendar
from jiesu.callback import service as callback
from jiesu.callback.models import Resolution, Satisfaction
from jiesu.clock import FixedClock
from jiesu.config import Settings
from jiesu.data.teddy import Corpus, Message, char_pairs, load_corpus, localise
from jiesu.db import unit_of_work
from jiesu.demo import story as tale
from jiesu.demo.govern import GovernReport, govern
from jiesu.errors import InvalidInput
from jiesu.intake import service as intake
from jiesu.permissions import CLOCK, Actor, Role
from jiesu.places.models import Area, AreaLevel
from jiesu.routing import service as routing
from jiesu.taxonomy.models import Category, RequestType, Urgency
from jiesu.tickets import service as svc
from jiesu.tickets.models import Channel, Request, Ticket
from jiesu.tickets.rules import FINAL_STATES, Step, TicketState
from jiesu.units.models import Unit, UnitKind

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SessionFactory = Callable[[], Session]

# Who the simulator acts as. No user rows are created: service.act takes an Actor.
DEMO_USER = "demo-sim"  # the operator who typed every demo request; marks the demo data
OPERATOR = Actor(username=DEMO_USER, role=Role.operator)
DISPATCHER = Actor(username="demo-dispatcher", role=Role.dispatcher)
CALLBACK = Actor(username="demo-callback", role=Role.callback_agent)
SUPERVISOR = Actor(username="demo-supervisor", role=Role.supervisor)

S = TicketState
PILOT_SHARE = 0.12  # of each district's streets that the demo's calls come from
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
BATCH = 200  # requests per committed transaction

# Resident population by district, 2020 census (10,000 people): where the calls come from.
DISTRICT_WEIGHTS = {
    "东城区": 70.9, "西城区": 110.6, "朝阳区": 345.2, "丰台区": 201.9, "石景山区": 56.8, "海淀区": 313.3,
    "门头沟区": 39.3, "房山区": 131.3, "通州区": 184.0, "顺义区": 132.4, "昌平区": 226.9, "大兴区": 199.4,
    "怀柔区": 44.1, "平谷区": 45.7, "密云区": 52.8, "延庆区": 34.6,
}
# Calls by local hour: a morning peak, a smaller afternoon one, quiet nights.
HOUR_WEIGHTS = (0.3, 0.2, 0.15, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 3.6, 3.0,
                2.0, 2.4, 2.9, 2.8, 2.6, 2.2, 1.6, 1.4, 1.3, 1.0, 0.7, 0.5)
WEEKEND_WEIGHT = 0.6  # days off, relative to working days

# The corpus's labels (一级标签) are level-1 names of the category tree. Beijing's hotline hears far more
# about housing and the streets than the corpus's mix, so the labels are drawn with these weights.
LABEL_WEIGHTS = {"城乡建设": 40, "环境保护": 12, "交通运输": 10, "劳动和社会保障": 12, "商贸旅游": 10,
                 "卫生计生": 8, "教育文体": 8}
# Departments (units.catalogue keys) a street whistles in, or names as co-handlers, per label.
LABEL_DEPARTMENTS = {"城乡建设": ("zj", "cgzf", "cgw", "gz"), "环境保护": ("sthj", "cgzf"),
                     "交通运输": ("jt", "gajg"), "劳动和社会保障": ("rs", "ybj"), "商贸旅游": ("scjg", "whly"),
                     "卫生计生": ("wjw", "scjg"), "教育文体": ("jw", "whly")}
WHISTLE_CHANCE = {"城乡建设": 0.07, "环境保护": 0.06}  # others: 0.02

# The demo's logins (jiesu/demo/cli.py DEMO_USERS) and the work the seed leaves waiting for each of them: the named
# streets' handlers and the departments they whistle in, and the community worker of 广外南里社区.
NAMED_STREETS = {"110115009000": ("ga-110115", "cgzf-110115", "zj-110115"),  # 观音寺街道 (the 群租 story)
                 "110114116000": ("jt-110114",)}  # 兴寿镇 (the 安四路 story)
NAMED_COMMUNITIES = ("110101013006",)  # 广外南里社区 (the fire lane story)
DEMO_CITIZEN = Actor(username="citizen", role=Role.citizen)  # files some of theirs in the app
STAFF_SHARE = 5  # the logins' work is made when the tickets asked for are at least this many times as many

HOT_SHARE = 0.25  # of tickets whose text comes from 附件3 (categorised by keyword) rather than 附件2

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐韩冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
RETURN_REASONS = ("经现场核实，诉求地点不在本街道辖区", "该事项属于行业部门职责，非属地职责",
                  "诉求涉及的小区由相邻街道管理", "经核实为区级部门审批事项，建议改派")
WITHDRAW_REASONS = ("市民来电表示问题已自行解决，申请撤回", "市民表示已与对方协商一致，不再需要办理",
                    "市民误拨重复反映，申请撤回")
NOTES = ("已电话联系诉求人，约定现场查看时间", "工作人员已到现场核实，正在协调相关方",
         "已约谈物业及相关责任方，督促限期整改", "已召开协调会，制定整改方案", "整改工作正在推进中")
ACTIONS = {
    "城乡建设": ("已责成物业公司限期整改，并安排专人跟踪", "已联合城管执法队现场处置，问题已整改完毕",
             "已协调施工单位调整作业时间并完善围挡", "已将相关情况纳入老旧小区改造计划，近期启动"),
    "环境保护": ("已联合生态环境部门现场检查，责令相关单位整改", "已对噪声源进行处置，并将持续巡查",
             "已安排环卫人员清理，并加密保洁频次"),
    "交通运输": ("已协调交通部门优化线路设置", "已联系交管部门加强该路段管理", "已安排对道路设施进行维修"),
    "劳动和社会保障": ("已协调人力社保部门为您核实办理", "已督促用人单位依法支付，并告知维权途径",
                "已向您详细解释相关政策及办理流程"),
    "商贸旅游": ("已联合市场监管部门对该商户进行检查", "已督促经营者整改，并告知投诉渠道",
             "已约谈经营者，责令规范经营"),
    "卫生计生": ("已协调卫生健康部门核查处理", "已督促相关医疗机构改进服务", "已向您解释相关政策"),
    "教育文体": ("已协调教育部门核实并答复", "已督促学校规范管理", "已向您解释相关政策及办理渠道"),
}


# --- the categories a corpus message gets -----------------------------------------------------

# Words that point at one level-3 category inside a level-1 one: {level-1: {level-3 name: pattern}}.
KEYWORDS: dict[str, dict[str, str]] = {
    "城乡建设": {"物业服务": "物业", "施工安全": "施工|工地", "违章建筑": "违建|违章|私搭|乱建|加盖",
        "城管执法": "占道|摆摊|小广告|停车", "环境卫生": "垃圾|保洁|卫生", "冬季采暖": "暖气|供暖|采暖",
        "自来水供应": "停水|自来水|水压", "电力供应": "停电|电压|供电", "燃气供应": "燃气|天然气|煤气",
        "公共汽车": "公交", "地铁城铁": "地铁|城铁", "基础设施": "路灯|井盖|下水|排水|积水|修路|道路",
        "园林绿化": "绿化|树木", "公园管理": "公园", "房屋拆迁": "拆迁", "安置补偿": "安置|补偿",
        "棚户区和城中村改造": "棚改|棚户区|城中村", "住房公积金": "公积金",
        "房产证登记、办理": "房产证|不动产|产权证", "居民服务设施": "电梯", "房屋租赁": "租房|出租|群租",
        "房地产开发管理": "开发商|楼盘|交房", "拖欠工程款": "工程款", "规划方案": "规划", "容积挡光": "挡光|采光",
        "安全隐患": "隐患", "保障性住房": "保障房|公租房|廉租房|经适房"},
    "环境保护": {"噪音污染": "噪音|噪声|扰民", "大气污染": "废气|烟尘|粉尘|异味|臭味|油烟|大气|焚烧",
        "水污染": "污水|排污|河道|水质", "固体污染": "固废|废渣|垃圾", "电磁污染": "辐射|基站",
        "环评报告不实": "环评", "环境执法": "偷排|执法"},
    "交通运输": {"行业监管": "出租车|的士", "网约车问题": "网约车|滴滴", "快递市场管理": "快递",
        "邮政市场监管": "邮政|邮局", "旅客运输": "客运|班车|大巴", "货物运输": "货车|货运",
        "公路收费": "收费站|高速", "设施维护": "道路|修路|路面", "规划建设": "线路|规划"},
    "劳动和社会保障": {"工资发放": "工资|欠薪|拖欠", "职工养老保险": "养老保险|养老金", "退休政策": "退休",
        "职工医疗保险": "医保|医疗保险", "新农村合作医疗": "新农合", "职工工伤保险": "工伤", "职工失业保险": "失业",
        "职工生育保险": "生育", "劳动合同纠纷": "劳动合同", "辞职辞退": "辞退|开除|解雇|辞职",
        "工作时间和休息休假": "加班|休假", "职业培训": "培训", "就业和再就业": "就业|招聘", "农民工权益": "农民工",
        "劳务派遣纠纷": "派遣", "住房公积金": "公积金", "社保基金管理": "社保"},
    "教育文体": {"招生录取": "入学|招生|学位|录取|高考|中考", "乱收费": "收费|补课费", "工资福利": "教师工资|绩效",
        "师资力量": "教师|老师", "校园安全": "校车|校园|安全", "校外机构管理": "补课|培训班|培训机构",
        "学生负担": "作业|减负", "学历学位学籍管理": "学籍|学历", "民办学校": "民办", "体育事业": "体育|健身",
        "文物保护": "文物|古建", "公共文化": "图书馆|文化", "文化市场与文化执法": "网吧|KTV",
        "原民办代课教师": "代课"},
    "商贸旅游": {"传销": "传销", "物价监督": "价格|涨价|收费", "商品质量": "质量|假冒|伪劣", "景区管理": "景区|门票",
        "旅游市场管理": "旅游|导游|旅行社", "广告监管": "广告", "特种设备管理": "电梯|锅炉", "中介机构管理": "中介",
        "商标管理": "商标"},
    "卫生计生": {"食品安全": "食品|餐馆|饭店|外卖", "药品和医疗器械管理": "药品|药店|医疗器械",
        "保健品化妆品管理": "保健品|化妆品", "医疗技术和服务": "医院|医生|看病", "医疗收费": "收费",
        "非法行医": "黑诊所|无证行医", "计划生育服务管理": "计生|二孩|生育", "独生子女父母奖励政策": "独生子女",
        "失独家庭": "失独", "疾病预防控制": "疫苗|传染|疾控", "医疗事故争议": "医疗事故"},
}


class Categoriser:
    """Picks a plausible level-3 category under a level-1 one: the child that KEYWORDS points at, else the
    children whose names (and their level-2 parent's) share the most character pairs with the text, rarer
    pairs counting more; ties at random; with no signal at all, the level's 其他/其他."""

    def __init__(self, categories: list[tuple[str, str, int, str | None]]) -> None:
        by_code = {code: (name, level, parent) for code, name, level, parent in categories}
        self.level1 = {name: code for code, name, level, _ in categories if level == 1}
        self.nodes: dict[str, list[tuple[str, frozenset[str], frozenset[str], re.Pattern | None]]] = defaultdict(list)
        self.other: dict[str, str] = {}
        names = {code: name for code, name, _, _ in categories}
        keywords = {(l1, l3): pattern for l1, inner in KEYWORDS.items() for l3, pattern in inner.items()}
        df: dict[str, int] = defaultdict(int)
        for code, name, level, parent in sorted(categories):
            if level != 3:
                continue
            l2 = by_code[parent][0] if parent in by_code else ""
            l1_code = code.split(".")[0]
            b3, b2 = self._name_pairs(name), self._name_pairs(l2)
            for b in b3 | b2:
                df[b] += 1
            kw = keywords.pop((names.get(l1_code, ""), name), None)
            self.nodes[l1_code].append((code, b3, b2, re.compile(kw) if kw else None))
            if name == "其他" and l2 == "其他":
                self.other[l1_code] = code
        self.weight = {b: 1.0 / n for b, n in df.items()}

    @staticmethod
    def _name_pairs(name: str) -> frozenset[str]:
        return frozenset(char_pairs(name)) - {"其他"}

    def pick(self, text: str, label: str, rng: Random) -> str | None:
        """A level-3 code under the level-1 category named `label`, or None if the tree has no such name."""
        l1 = self.level1.get(label)
        if l1 is None or not self.nodes.get(l1):
            return None
        pairs, w = char_pairs(text), self.weight
        scored = [(3.0 * len(set(kw.findall(text))) if kw else 0.0)
                  + 2 * sum(w[b] for b in b3 if b in pairs) + sum(w[b] for b in b2 if b in pairs)
                  for _, b3, b2, kw in self.nodes[l1]]
        best = max(scored)
        if best <= 0:
            return self.other.get(l1) or rng.choice(self.nodes[l1])[0]
        return rng.choice([node[0] for node, score in zip(self.nodes[l1], scored, strict=True)
                           if score >= best - 1e-9])


# --- the city, as the database has it ----------------------------------------------------------

@dataclass
class Street:
    code: str
    name: str
    district_code: str
    district_name: str
    unit_id: int
    communities: list[tuple[str, str]]  # (code, short name: 复兴门外社区, not ...社区居委会)


@dataclass
class City:
    streets_by_district: dict[str, list[Street]]
    district_weights: dict[str, float]
    branches: dict[str, int]  # department branch code (ga-110115) -> unit id
    categoriser: Categoriser
    named: dict[str, int] = field(default_factory=dict)  # the demo logins' communities: unit code -> unit id
    category_paths: dict[str, str] = field(default_factory=dict)  # 城乡建设/.../冬季采暖 -> its code


def _load_city(session: Session) -> City:
    districts = dict(session.execute(select(Area.code, Area.name).where(Area.level == AreaLevel.district)).all())
    communities: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, name, street in session.execute(select(Area.code, Area.short_name, Area.street_code)
                                              .where(Area.level == AreaLevel.community).order_by(Area.code)):
        communities[street].append((code, name))
    streets: dict[str, list[Street]] = defaultdict(list)
    rows = session.execute(select(Area.code, Area.name, Area.district_code, Unit.id)
                           .join(Unit, Unit.code == Area.code)
                           .where(Area.level == AreaLevel.street, Unit.kind == UnitKind.street,
                                  Unit.active.is_(True)).order_by(Area.code))
    for code, name, district, unit_id in rows:
        if district in districts:
            streets[district].append(Street(code, name, district, districts[district], unit_id, communities[code]))
    categories = session.execute(select(Category.code, Category.name, Category.level, Category.parent_id,
                                        Category.id, Category.path).where(Category.active.is_(True))).all()
    code_of = {cid: code for code, _, _, _, cid, _ in categories}
    categoriser = Categoriser([(code, name, level, code_of.get(parent))
                               for code, name, level, parent, _, _ in categories])
    if not streets or not categoriser.nodes:
        raise InvalidInput("no streets with units or no category tree yet: import places, bootstrap units and "
                           "import the categories first (`jiesu demo seed`)", field="reference_data")
    weights = {d: DISTRICT_WEIGHTS.get(districts[d], float(len(s))) for d, s in streets.items()}
    branches = dict(session.execute(select(Unit.code, Unit.id).where(Unit.kind == UnitKind.department_branch,
                                                                     Unit.active.is_(True))).all())
    named = dict(session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(NAMED_COMMUNITIES),
                                                                  Unit.active.is_(True))).all())
    paths = {path: code for code, _, level, _, _, path in categories if level == 3}
    return City(dict(streets), weights, branches, categoriser, named, paths)


# --- the plan: who calls when about what ---------------------------------------------------------

@dataclass
class Plan:
    index: int
    created_at: datetime
    new: svc.NewRequest
    street: Street
    label: str
    answer: bool = False  # a direct answer: a request, no ticket
    fate: str = "normal"  # or a state it must stay in: new, dispatched, returned, handling, replied, withdrawn
    parent: int | None = None  # a duplicate: the index of the ticket it is merged into
    number: str | None = None  # given at creation
    work: Staffed | None = None  # a demo login's work, lived by _Sim._staff_life instead of _Sim._life


@dataclass
class Staffed:
    """A ticket made to be waiting in one state for one of the demo logins at the present moment."""

    unit: str  # the main unit's code: a named street, a summoned department or the community
    unit_id: int
    fate: str  # new, dispatched, handling, extension, whistle, replied, returned
    filer: Actor | None = None  # who files it (the demo citizen files theirs in the app); else the operator
    summon: tuple[str, ...] = ()  # whistle: the departments summoned ...
    signing: int = 0  # ... and how many of them have reported for duty (none has reported its part done)


def _instants(rng: Random, n: int, start: datetime, now: datetime, tz: ZoneInfo, is_workday) -> list[datetime]:
    """n instants in [start, now), busier on working days and in the morning, sorted."""
    first, last = start.astimezone(tz).date(), now.astimezone(tz).date()
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    day_cum = list(_cumulative(1.0 if is_workday(d) else WEEKEND_WEIGHT for d in days))
    hour_cum = list(_cumulative(HOUR_WEIGHTS))
    out: list[datetime] = []
    while len(out) < n:
        d = rng.choices(days, cum_weights=day_cum)[0]
        h = rng.choices(range(24), cum_weights=hour_cum)[0]
        at = (datetime(d.year, d.month, d.day, h, tzinfo=tz) + timedelta(seconds=rng.randrange(3600))).astimezone(UTC)
        if start <= at < now:
            out.append(at)
    return sorted(out)


def _cumulative(weights) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _request_type(text: str, rng: Random) -> RequestType:
    if "举报" in text and rng.random() < 0.7:
        return RequestType.report
    if "建议" in text[:80] and rng.random() < 0.6:
        return RequestType.suggestion
    if re.search(r"咨询|请问|能否|是否可以|如何办理|怎么办理", text[:120]) and rng.random() < 0.6:
        return RequestType.inquiry
    return rng.choices((RequestType.complaint, RequestType.help, RequestType.suggestion, RequestType.inquiry),
                       weights=(50, 32, 8, 10))[0]


def _contact(rng: Random) -> tuple[str | None, str | None, bool]:
    if rng.random() < 0.05:
        return None, None, True  # anonymous
    name = rng.choice(SURNAMES) + rng.choice(("先生", "女士"))
    phone = rng.choice(("13", "15", "18", "17")) + "".join(str(rng.randrange(10)) for _ in range(9))
    return name, phone, False


class _Planner:
    def __init__(self, city: City, corpus: Corpus, rng: Random) -> None:
        self.city, self.corpus, self.rng = city, corpus, rng
        self.labels = [lb for lb in LABEL_WEIGHTS if corpus.labelled.get(lb) and city.categoriser.level1.get(lb)]
        if not self.labels:
            raise InvalidInput("the category tree has none of the corpus's level-1 names", field="reference_data")
        self.pools = {lb: self._shuffled(corpus.labelled[lb]) for lb in self.labels}
        self.used = {lb: 0 for lb in self.labels}
        self.hot = self._shuffled(corpus.hot)
        self.hot_at = 0
        self.replied = self._shuffled(corpus.replied)
        self.replied_at = 0
        districts = list(city.streets_by_district)
        self.districts = districts
        self.district_cum = _cumulative(city.district_weights[d] for d in districts)
        # A few thousand tickets spread over all 343 streets would give each two a month, too few to rank
        # (the real city gives each thousands). The demo's calls come from the most populous streets of each
        # district, so that a month of it ranks streets the way the real month does.
        self.streets = {d: sorted(city.streets_by_district[d], key=lambda s: (-len(s.communities), s.code))
                        [:max(2, math.ceil(len(city.streets_by_district[d]) * PILOT_SHARE))] for d in districts}
        self.street_cum = {d: _cumulative(max(1, len(s.communities)) for s in self.streets[d]) for d in districts}

    def _shuffled(self, items) -> list:
        items = list(items)
        self.rng.shuffle(items)
        return items

    def street(self) -> Street:
        d = self.rng.choices(self.districts, cum_weights=self.district_cum)[0]
        return self.rng.choices(self.streets[d], cum_weights=self.street_cum[d])[0]

    def message(self) -> tuple[Message, str, str | None]:
        """(message, label, level-3 code): mostly a labelled message, some hot ones with a guessed label."""
        rng = self.rng
        if self.hot and rng.random() < HOT_SHARE:
            m = self.hot[self.hot_at % len(self.hot)]
            self.hot_at += 1
            label = self.corpus.guesser.guess(m.title + m.text, self.labels)
        else:
            label = rng.choices(self.labels, weights=[LABEL_WEIGHTS[lb] for lb in self.labels])[0]
            pool = self.pools[label]
            m = pool[self.used[label] % len(pool)]
            self.used[label] += 1
        return m, label, self.city.categoriser.pick(m.title + m.text, label, rng)

    def ticket(self, index: int, at: datetime, street: Street | None = None, community: str | None = None) -> Plan:
        """A citizen's call at `at`: from a street drawn by population, or from `street` (and its `community`)."""
        rng = self.rng
        street = street or self.street()
        m, label, category = self.message()
        area_code, place = street.code, street.name
        if community is not None:
            area_code, place = community, street.name + dict(street.communities).get(community, "")
        elif street.communities and rng.random() < 0.75:
            area_code, short = rng.choice(street.communities)
            place = street.name + short
        name, phone, anonymous = _contact(rng)
        text = localise(m.text, street.district_name, street.name)[:svc.MAX_TEXT]
        channel = rng.choices((Channel.hotline, Channel.app, Channel.web), weights=(72, 16, 12))[0]
        urgency = Urgency.normal
        r = rng.random()
        if r < 0.04 and label in ("城乡建设", "环境保护", "交通运输"):
            urgency = Urgency.emergency
        elif r < 0.12:
            urgency = Urgency.complex
        new = svc.NewRequest(text=text, title=localise(m.title, street.district_name, street.name),
                             request_type=_request_type(text, rng), channel=channel, address=place,
                             area_code=area_code, contact_name=name, contact_phone=phone, anonymous=anonymous,
                             no_callback=not anonymous and rng.random() < 0.04, urgency=urgency,
                             category_code=category)
        return Plan(index, at, new, street, label)

    def scripted(self, index: int, call: tale.Call, street: Street) -> Plan:
        """One of the governance story's calls (jiesu/demo/story.py): its own words, place and category."""
        rng = self.rng
        name, phone, anonymous = _contact(rng)
        place = street.name + dict(street.communities).get(call.community, "")
        new = svc.NewRequest(text=call.text, title=call.title, request_type=rng.choices(
                                 (RequestType.complaint, RequestType.help), weights=(55, 45))[0],
                             channel=rng.choices((Channel.hotline, Channel.app, Channel.web), weights=(80, 12, 8))[0],
                             address=place, area_code=call.community, contact_name=name, contact_phone=phone,
                             anonymous=anonymous, urgency=Urgency.emergency if call.emergency else Urgency.normal,
                             category_code=self.city.category_paths.get(call.problem.category))
        return Plan(index, call.at, new, street, call.problem.category.split("/")[0])

    def answer(self, index: int, at: datetime) -> Plan:
        """An inquiry answered at once, with the official answer of 附件4."""
        rng = self.rng
        m = self.replied[self.replied_at % len(self.replied)]
        self.replied_at += 1
        street = self.street()
        label = self.corpus.guesser.guess(m.title + m.text, self.labels)
        name, phone, anonymous = _contact(rng)
        d, s = street.district_name, street.name
        new = svc.NewRequest(text=localise(m.text, d, s), title=localise(m.title, d, s),
                             request_type=RequestType.inquiry, channel=Channel.hotline, address=s,
                             area_code=street.code, contact_name=name, contact_phone=phone, anonymous=anonymous,
                             category_code=self.city.categoriser.pick(m.title + m.text, label, rng) if label else None,
                             direct_answer=localise(m.answer, d, s))
        return Plan(index, at, new, street, label or "", answer=True)


def _duplicate(child: Plan, parent: Plan) -> None:
    """The child becomes a second call about the parent's matter: same place, text and category."""
    p = parent.new
    child.new = svc.NewRequest(text=p.text, title=p.title, request_type=p.request_type, channel=Channel.hotline,
                                   address=p.address, area_code=p.area_code, contact_name=child.new.contact_name,
                                   contact_phone=child.new.contact_phone, anonymous=child.new.anonymous,
                                   urgency=p.urgency, category_code=p.category_code)
    child.street, child.label, child.parent = parent.street, parent.label, parent.index


def _plans(planner: _Planner, rng: Random, ticket_times: list[datetime], answer_times: list[datetime],
           now: datetime, staff: list[StaffSpec] | None = None, story: list[tale.Call] | None = None) -> list[Plan]:
    plans: list[Plan] = []
    for at in ticket_times:
        plan = planner.ticket(len(plans), at)
        if plans and rng.random() < 0.025:  # a second caller about something already reported
            earlier = [p for p in plans[-60:] if p.parent is None and timedelta(minutes=20) <= at - p.created_at
                       <= timedelta(hours=72)]
            if earlier:
                _duplicate(plan, rng.choice(earlier))
        plans.append(plan)
    streets = {st.code: st for group in planner.city.streets_by_district.values() for st in group}
    plans += [planner.scripted(len(plans) + i, call, streets[call.street]) for i, call in enumerate(story or [])]
    _force_fates(plans, rng, now)
    answers = [planner.answer(len(plans) + i, at) for i, at in enumerate(answer_times)]
    return plans + answers + _staff_plans(planner, rng, now, len(plans) + len(answers), staff or [])


@dataclass
class StaffSpec:
    """One ticket of the demo logins' work, before its text and time are drawn."""

    street: Street
    work: Staffed
    hours: tuple[float, float]  # made this many hours before the present, drawn in the range
    community: str | None = None
    urgency: Urgency | None = None
    twin_of: int | None = None  # a second call about the spec at this position (a likely duplicate)


def _staff_specs(city: City) -> list[StaffSpec]:
    """Work waiting for every demo login at the present moment, made in the last hours: for each named street and
    the departments it whistles in, tickets to sign, in hand, with an extension asked, whistled (departments
    summoned, some reported for duty, none done), replied and waiting for the callback, returned; new ones for the
    dispatcher (one a second call about an open ticket); the community's own; the demo citizen's. Only what the
    city has (a street, department or community missing from it is left out)."""
    streets = {st.code: st for group in city.streets_by_district.values() for st in group}
    out: list[StaffSpec] = []
    fresh, recent, day, older = (0.5, 0.7), (3.0, 8.0), (4.0, 30.0), (6.0, 40.0)
    for code, wanted in NAMED_STREETS.items():
        street = streets.get(code)
        if street is None:
            continue
        departments = tuple(d for d in wanted if d in city.branches)

        def add(fate: str, hours: tuple[float, float], street: Street = street, **kw) -> int:
            extra = {k: kw.pop(k) for k in ("community", "urgency", "twin_of") if k in kw}
            out.append(StaffSpec(street, Staffed(street.code, street.unit_id, fate, **kw), hours, **extra))
            return len(out) - 1
        add("dispatched", fresh)
        add("dispatched", recent)  # its sign deadline missed
        parent = add("handling", day)
        add("handling", (0.8, 1.0), urgency=Urgency.emergency)  # due within hours
        add("extension", day)
        if departments:
            add("whistle", day, summon=departments, signing=1)
            add("whistle", day, summon=departments, signing=0)
        add("replied", older)
        add("replied", older)
        add("returned", recent)
        add("new", (0.2, 0.8))
        add("new", (0.1, 0.2), twin_of=parent)
        for dept in departments:
            for fate, hours in (("dispatched", fresh), ("handling", day), ("extension", day), ("replied", older)):
                out.append(StaffSpec(street, Staffed(dept, city.branches[dept], fate), hours))
        if code == next(iter(NAMED_STREETS)):  # the demo citizen's own requests, in the app
            add("handling", day, filer=DEMO_CITIZEN)
            add("replied", older, filer=DEMO_CITIZEN)
    for code in NAMED_COMMUNITIES:
        street = next((st for st in streets.values() if any(c == code for c, _ in st.communities)), None)
        if street is None or code not in city.named:
            continue
        for fate, hours in (("dispatched", fresh), ("handling", day), ("replied", older)):
            out.append(StaffSpec(street, Staffed(code, city.named[code], fate), hours, community=code))
        out.append(StaffSpec(street, Staffed(street.code, street.unit_id, "handling"), day, community=code))
    return out


def _staff_plans(planner: _Planner, rng: Random, now: datetime, first: int, specs: list[StaffSpec]) -> list[Plan]:
    plans: list[Plan] = []
    for spec in specs:
        p = planner.ticket(first + len(plans), now - rng.uniform(*spec.hours) * HOUR, spec.street, spec.community)
        if spec.twin_of is not None:
            _duplicate(p, plans[spec.twin_of])
            p.parent = None  # left for the dispatcher to merge
        # the demo's work is called back: a named, reachable citizen
        changes: dict = {"anonymous": False, "no_callback": False,
                         "contact_name": p.new.contact_name or "王女士",
                         "contact_phone": p.new.contact_phone or "13900000000"}
        if spec.urgency is not None:
            changes["urgency"] = spec.urgency
        if spec.work.filer is not None:
            changes |= {"channel": Channel.app, "contact_name": "张先生"}
        p.new, p.work = replace(p.new, **changes), spec.work
        if spec.work.fate == "new":
            p.fate = "new"
        plans.append(p)
    return plans


def _force_fates(plans: list[Plan], rng: Random, now: datetime) -> None:
    """Make sure every state shows up: the latest tickets get stuck where a demo wants to see them (the
    dispatcher has not got to one yet, a unit has not signed another ...); a few are withdrawn and merged."""
    n = len(plans)
    taken = {p.index for p in plans if p.parent is not None} | {p.parent for p in plans if p.parent is not None}
    latest = sorted(plans, key=lambda p: p.created_at, reverse=True)

    def take(fate: str, count: int, min_age: timedelta) -> None:
        for p in latest:
            if count <= 0:
                return
            if p.index not in taken and now - p.created_at >= min_age:
                p.fate = fate
                taken.add(p.index)
                count -= 1

    take("new", max(1, n // 400), timedelta(0))
    take("dispatched", max(1, n // 300), 30 * MIN)
    take("returned", max(1, n // 300), 3 * HOUR)
    take("replied", 1, 12 * HOUR)
    take("handling", 1, 3 * HOUR)
    # a sure merge: the latest ticket old enough, into an earlier one that stays open
    if not any(p.parent is not None and plans[p.parent].fate == "handling" for p in plans):
        for child in latest:
            if child.index in taken or now - child.created_at < 3 * HOUR:
                continue
            parents = [p for p in plans if p.index not in taken and p.parent is None
                       and timedelta(minutes=20) <= child.created_at - p.created_at <= timedelta(hours=72)]
            if parents:
                parent = parents[-1]
                _duplicate(child, parent)
                parent.fate = "handling"
                taken |= {child.index, parent.index}
                break
    eligible = [p for p in plans if p.index not in taken and now - p.created_at >= 3 * HOUR]
    for p in rng.sample(eligible, min(len(eligible), max(1, n // 70))):
        p.fate = "withdrawn"


# --- the simulation -------------------------------------------------------------------------------

@dataclass
class Do:
    """One step a ticket's life wants to take at `at`."""

    at: datetime
    actor: Actor
    step: Step
    data: svc.StepInput | None = None
    merge_into: int | None = None  # a merge happens only if that ticket is still open by then
    answer: callback.Answer | None = None  # a callback: the desk records it, and it closes or reopens the ticket


@dataclass
class Snap:
    state: TicketState
    dispatch_by: datetime
    sign_by: datetime | None
    reply_by: datetime | None
    sign_overdue: bool
    reply_overdue: bool
    escalated: bool

    @classmethod
    def of(cls, t: Ticket) -> Snap:
        return cls(t.state, t.dispatch_by, t.sign_by, t.reply_by, t.sign_overdue, t.reply_overdue, t.escalated)


Life = Generator[Do, Snap | None, None]


@dataclass
class Live:
    plan: Plan
    rng: Random
    life: Life
    snap: Snap
    last_at: datetime
    pending: Do | None = None


@dataclass
class SimReport:
    skipped: bool  # demo data was there already: nothing was added
    tickets: int  # demo tickets in the database
    direct_answers: int  # demo requests answered at once (no ticket)
    events: int  # ticket events written by this run
    states: dict[str, int]  # demo tickets by state
    overdue: int  # demo tickets with a sign or reply deadline missed
    escalated: int
    window: tuple[datetime, datetime] | None  # created_at of the first and last demo request
    seconds: float
    message: str = ""
    story: tale.Story | None = None  # the governance story's calls, when the demo was big enough for it
    governed: GovernReport | None = None  # and what the centre did with them


def _handler(unit_code: str, unit_id: int) -> Actor:
    return Actor(username=f"h-{unit_code}", role=Role.unit_handler, unit_id=unit_id)


class _Sim:
    def __init__(self, city: City, plans: list[Plan], now: datetime, settings: Settings, seed: int) -> None:
        self.city, self.plans, self.now, self.settings, self.seed = city, plans, now, settings, seed
        self.tz = settings.tz
        self.lives: dict[int, Live] = {}
        self.events = 0
        self.clock = FixedClock(now)

    # the scheduler: every ticket's next step, run in time order across the city
    def run(self, factory: SessionFactory, progress: Progress | None) -> None:
        heap = [(p.created_at, p.index, p.index) for p in self.plans]
        heapq.heapify(heap)
        counter = len(self.plans)
        created, total = 0, len(self.plans)
        while heap:
            with unit_of_work(factory) as session:
                batch_end = created + BATCH
                while heap and created < batch_end:
                    _, _, index = heapq.heappop(heap)
                    live = self.lives.get(index)
                    if live is None:
                        live = self._create(session, self.plans[index])
                        created += 1
                        if live is None:
                            continue
                        do = self._next(live, live.snap)
                    else:
                        do = self._step(session, live)
                    if do is None:
                        self._finish(session, live)
                    else:
                        live.pending = do
                        counter += 1
                        heapq.heappush(heap, (do.at, counter, index))
            if progress:
                progress("tickets", created, total)

    def _create(self, session: Session, plan: Plan) -> Live | None:
        self.clock.set(plan.created_at)
        filer = plan.work.filer if plan.work and plan.work.filer else OPERATOR
        if plan.fate == "new":
            # Left for the dispatcher: filed as intake files it, with smart dispatch's suggestion (the category
            # too: the operator did not choose one), so that the queue shows what the dispatcher would see.
            made = intake.create_request(session, filer, self.clock, self.settings,
                                         replace(plan.new, category_code=None)).intake
        else:
            made = svc.create_request(session, filer, self.clock, self.settings, plan.new)
        if made.ticket is None:
            return None
        plan.number = made.ticket.number
        self.events += 1
        rng = Random(self.seed * 1_000_003 + plan.index)
        life = self._staff_life(plan, rng) if plan.work else self._life(plan, rng)
        live = Live(plan, rng, life, Snap.of(made.ticket), plan.created_at)
        next(live.life)
        self.lives[plan.index] = live
        return live

    def _next(self, live: Live, sent: Snap | None) -> Do | None:
        try:
            do = live.life.send(sent)
        except StopIteration:
            return None
        if do.at > self.now:
            live.life.close()
            return None
        return do

    def _step(self, session: Session, live: Live) -> Do | None:
        do, live.pending = live.pending, None
        self._catch_up(session, live, do.at)
        if do.merge_into is not None:
            parent = self.lives.get(do.merge_into)
            if parent is None or parent.snap.state in FINAL_STATES or live.snap.state not in (S.new, S.dispatched):
                return self._next(live, None)
            number = parent.plan.number
            do.data = svc.StepInput(parent=number, reason=f"与工单{number}反映同一问题，并单处理")
        self._act(session, live, do)
        return self._next(live, live.snap)

    def _act(self, session: Session, live: Live, do: Do) -> None:
        at = max(do.at, live.last_at)
        self.clock.set(at)
        if do.answer is not None:
            ticket = callback.record(session, do.actor, self.clock, self.settings, live.plan.number, do.answer).ticket
        else:
            ticket = svc.act(session, do.actor, self.clock, self.settings, live.plan.number, do.step, do.data)
        live.snap, live.last_at = Snap.of(ticket), at
        self.events += 1

    def _finish(self, session: Session, live: Live) -> None:
        if live.snap.state == S.new:
            self._suggest(session, live)
        elif live.snap.state not in FINAL_STATES:
            self._catch_up(session, live, self.now)

    def _suggest(self, session: Session, live: Live) -> None:
        """A ticket the operator filed with its category whose dispatch falls after now still waits for the
        dispatcher: smart dispatch's worker gives it a suggestion a moment after intake, as it would any ticket."""
        ticket = session.scalar(select(Ticket).where(Ticket.number == live.plan.number))
        if ticket is None or ticket.suggestion is not None:
            return
        ticket.suggest_pending = True
        session.flush()
        self.clock.set(min(live.last_at + timedelta(seconds=2), self.now))
        routing.suggest_pending(session, self.clock, self.settings, batch=1)

    def _catch_up(self, session: Session, live: Live, until: datetime) -> None:
        """What the clock did for this ticket before `until`: mark missed deadlines; a supervisor escalates
        some of the late ones."""
        s = live.snap
        if s.state == S.dispatched and s.sign_by and not s.sign_overdue and s.sign_by < until:
            self._mark(session, live, "sign", s.sign_by, until, escalate=0.3)
        s = live.snap
        if (s.state in (S.dispatched, S.handling, S.returned) and s.reply_by and not s.reply_overdue
                and s.reply_by < until):
            self._mark(session, live, "reply", s.reply_by, until, escalate=0.5)

    def _mark(self, session: Session, live: Live, which: str, deadline: datetime, until: datetime,
              escalate: float) -> None:
        rng = live.rng
        at = min(max(deadline + rng.uniform(1, 5) * MIN, live.last_at), until)
        self._act(session, live, Do(at, CLOCK, Step.mark_overdue, svc.StepInput(deadline=which)))
        if rng.random() < escalate and not live.snap.escalated:
            at = live.last_at + rng.uniform(1, 20) * HOUR
            if at < until:
                reason = "超时未签收，请立即签收办理" if which == "sign" else "已超办理时限，请加快办理并及时答复"
                self._act(session, live, Do(at, SUPERVISOR, Step.escalate, svc.StepInput(reason=reason)))

    def quality(self, unit_code: str) -> float:
        """How well a unit works, 0.6 to 1, fixed by its code: the same street is good or poor every month."""
        return 0.6 + 0.4 * Random(f"{self.seed}:{unit_code}").random() ** 0.5

    # one ticket's life, as the centre, the units and the citizen would live it
    def _daytime(self, at: datetime, lo: datetime, hi: datetime, rng: Random) -> datetime:
        """`at`, moved out of the night (22:00-07:00 local) when the result stays within (lo, hi)."""
        local = at.astimezone(self.tz)
        if 7 <= local.hour < 22:
            return at
        day = local.date() if local.hour < 7 else local.date() + DAY
        moved = (datetime(day.year, day.month, day.day, 7, tzinfo=self.tz)
                 + timedelta(minutes=rng.uniform(30, 150))).astimezone(UTC)
        return moved if lo < moved < hi else at

    def _life(self, p: Plan, rng: Random) -> Life:
        s = yield  # type: ignore[misc]  # primed; then sent the snapshot after creation
        t = p.created_at
        street = p.street
        emergency = p.new.urgency == Urgency.emergency
        if p.parent is not None:
            t += rng.uniform(8, 50) * MIN
            merged = yield Do(t, DISPATCHER, Step.merge, merge_into=p.parent)
            if merged is not None:
                return
        if p.fate == "withdrawn" and rng.random() < 0.4:
            yield Do(t + rng.uniform(10, 100) * MIN, OPERATOR, Step.withdraw,
                     svc.StepInput(reason=rng.choice(WITHDRAW_REASONS)))
            return
        if p.fate == "new":
            return
        # dispatch: well within the dispatch deadline, a few late
        window = s.dispatch_by - p.created_at
        frac = rng.uniform(1.05, 1.6) if rng.random() < 0.03 else 0.03 + 0.9 * rng.betavariate(1.3, 3)
        t = max(t, p.created_at + window * frac)
        departments = [f"{k}-{street.district_code[:6]}" for k in LABEL_DEPARTMENTS.get(p.label, ())]
        departments = [d for d in departments if d in self.city.branches]
        co = [rng.choice(departments)] if departments and rng.random() < 0.04 else []
        s = yield Do(t, DISPATCHER, Step.dispatch, svc.StepInput(unit=street.code, co_units=co))
        unit = (street.code, street.unit_id)
        if p.fate == "dispatched":
            return
        # 退单: not ours, says the unit; the centre re-dispatches it or sends it back
        if p.fate == "returned" or rng.random() < 0.05:
            t += max(s.sign_by - t, 5 * MIN) * rng.uniform(0.2, 0.9)
            s = yield Do(t, _handler(*unit), Step.return_, svc.StepInput(reason=rng.choice(RETURN_REASONS)))
            if p.fate == "returned":
                return
            t += rng.uniform(0.5, 5) * HOUR
            others = [o for o in self.city.streets_by_district[street.district_code] if o.code != street.code]
            if others and rng.random() < 0.6:
                other = rng.choice(others)
                s = yield Do(t, DISPATCHER, Step.uphold_return,
                             svc.StepInput(unit=other.code, reason=f"经审核，诉求地点属{other.name}，改派"))
                unit = (other.code, other.unit_id)
            else:
                s = yield Do(t, DISPATCHER, Step.reject_return,
                             svc.StepInput(reason="经核实属于该单位职责范围，请签收办理"))
        # sign: within the hour mostly, some an hour or two late
        window = max(s.sign_by - t, 5 * MIN)
        t += window * (rng.uniform(1.1, 2.5) if rng.random() < 0.06 else rng.uniform(0.05, 0.9))
        s = yield Do(t, _handler(*unit), Step.sign)
        handler = _handler(*unit)
        rounds = 0
        while True:
            start = t
            span = max(s.reply_by - start, 2 * HOUR)
            if p.fate == "withdrawn":
                yield Do(start + span * rng.uniform(0.1, 0.6), OPERATOR, Step.withdraw,
                         svc.StepInput(reason=rng.choice(WITHDRAW_REASONS)))
                return
            if p.fate == "handling":
                return  # still being worked on
            late = rng.random() < (0.10 if rounds == 0 else 0.05)
            if late:
                reply_at = s.reply_by + span * rng.uniform(0.05, 0.5)
            else:
                reply_at = start + span * (0.05 + 0.9 * rng.betavariate(2, 2.5))
            if not emergency:  # units answer in the daytime
                reply_at = self._daytime(reply_at, start + 10 * MIN, reply_at + DAY if late else s.reply_by, rng)
            if p.fate == "replied":
                reply_at = min(reply_at, start + (self.now - start) * 0.5)
            steps: list[Do] = []
            room = reply_at - start
            if not emergency and rng.random() < 0.2:
                steps.append(Do(start + room * rng.uniform(0.2, 0.6), handler, Step.note,
                                svc.StepInput(text=rng.choice(NOTES))))
            if (not emergency and rounds == 0 and len(departments) > 0
                    and rng.random() < WHISTLE_CHANCE.get(p.label, 0.02)):
                steps += self._whistle(rng, start, room, handler, departments, street)
            if late and not emergency and rng.random() < 0.4 and s.reply_by - start > 4 * HOUR:
                ask = max(start + HOUR, s.reply_by - span * rng.uniform(0.05, 0.2))
                if ask < reply_at - 2 * HOUR:
                    steps.append(Do(ask, handler, Step.request_extension, svc.StepInput(
                        # a float, as the column gives it back: the event payload is then the same however loaded
                        reason="涉及多个部门协调，需延长办理时限", days=rng.choice((3.0, 5.0, 7.0)))))
                    decide = ask + rng.uniform(1, 6) * HOUR
                    if decide < reply_at:
                        if rng.random() < 0.8:
                            steps.append(Do(decide, DISPATCHER, Step.approve_extension))
                        else:
                            steps.append(Do(decide, DISPATCHER, Step.reject_extension,
                                            svc.StepInput(reason="理由不充分，请按期办结")))
            steps.sort(key=lambda d: d.at)  # daytime, keeping their order (a summoned unit signs after the whistle)
            for do, at in zip(steps, sorted(self._daytime(d.at, start, reply_at, rng) for d in steps), strict=True):
                do.at = at
                s = yield do
            t = reply_at
            s = yield Do(t, handler, Step.reply, svc.StepInput(text=self._reply_text(p, unit, rng)))
            t += rng.uniform(1, 10) * MIN
            s = yield Do(t, CLOCK, Step.queue_callback)
            if p.fate == "replied":
                return
            # the callback: most resolved and satisfied, a few unresolved and reopened
            t = self._daytime(t + min(72, max(0.5, rng.lognormvariate(math.log(16), 0.7))) * HOUR, t, t + 3 * DAY,
                              rng)
            if p.new.no_callback or p.new.anonymous:
                s = yield Do(t, CALLBACK, Step.close, svc.StepInput(reason="市民不需回访，办结"))
                return
            # Some citizens do not pick up: tried again hours later, and after the last attempt the round
            # ends as 未联系上.
            hard_to_reach = rng.random() < 0.04
            while hard_to_reach or rng.random() < 0.08:
                s = yield Do(t, CALLBACK, Step.close, answer=callback.Answer(reached=False))
                if s.state != S.replied:
                    return
                t = self._daytime(t + rng.uniform(2, 8) * HOUR, t, t + 2 * DAY, rng)
            # Streets differ: the rankings have something to show. Unresolved reopens, once at most here.
            q = self.quality(unit[0])
            r = rng.random()
            if rounds == 0 and r < 0.03 + 0.25 * (1 - q):
                answer = callback.Answer(contacted=rng.random() < 0.8, resolution=Resolution.unresolved,
                                         satisfaction=Satisfaction.unsatisfied, comment="市民表示问题未解决")
                s = yield Do(t, CALLBACK, Step.reopen, answer=answer)
                rounds += 1
                continue
            contacted = rng.random() < 0.90 + 0.1 * q
            if r < 0.08 + 0.3 * (1 - q):
                answer = callback.Answer(contacted=contacted, resolution=Resolution.partly,
                                         satisfaction=rng.choice((Satisfaction.basically, Satisfaction.unsatisfied)),
                                         comment="诉求超出政策范围，已向市民解释说明")
            else:
                satisfaction = rng.choices(list(Satisfaction), weights=(60 + 35 * q, 15, 5 + 10 * (1 - q)))[0]
                answer = callback.Answer(contacted=contacted, resolution=Resolution.resolved,
                                         satisfaction=satisfaction, comment="问题已解决")
            s = yield Do(t, CALLBACK, Step.close, answer=answer)
            if rounds == 0 and rng.random() < 0.01:
                t += rng.uniform(2, 10) * DAY
                s = yield Do(t, CALLBACK, Step.reopen, svc.StepInput(reason="市民再次来电反映问题复发，重办",
                                                                          resolved=False))
                rounds += 1
                continue
            return

    def _staff_life(self, p: Plan, rng: Random) -> Life:
        """A demo login's ticket: dispatched minutes after the call, then taken to its fate and left there."""
        yield  # type: ignore[misc]  # primed; then sent the snapshot after creation
        w = p.work
        assert w is not None
        if w.fate == "new":
            return
        t = p.created_at + rng.uniform(3, 8) * MIN
        yield Do(t, DISPATCHER, Step.dispatch, svc.StepInput(unit=w.unit))
        if w.fate == "dispatched":
            return
        handler = _handler(w.unit, w.unit_id)
        t += rng.uniform(3, 8) * MIN
        if w.fate == "returned":
            yield Do(t, handler, Step.return_, svc.StepInput(reason=rng.choice(RETURN_REASONS)))
            return
        yield Do(t, handler, Step.sign)
        span = self.now - t
        if w.fate == "handling":
            if span > 2 * HOUR:
                yield Do(t + span * rng.uniform(0.2, 0.6), handler, Step.note, svc.StepInput(text=rng.choice(NOTES)))
        elif w.fate == "extension":
            yield Do(t + span * rng.uniform(0.2, 0.6), handler, Step.request_extension, svc.StepInput(
                reason="涉及多个部门协调，需延长办理时限", days=rng.choice((3.0, 5.0, 7.0))))
        elif w.fate == "whistle":
            t += span * rng.uniform(0.1, 0.3)
            yield Do(t, handler, Step.whistle, svc.StepInput(units=list(w.summon),
                                                             reason="问题涉及多个部门职责，吹哨召集联合执法"))
            for code in w.summon[:w.signing]:
                t += (self.now - t) * rng.uniform(0.1, 0.4)
                yield Do(t, _handler(code, self.city.branches[code]), Step.summons_sign)
        elif w.fate == "replied":
            t += span * rng.uniform(0.3, 0.7)
            yield Do(t, handler, Step.reply, svc.StepInput(text=self._reply_text(p, (w.unit, w.unit_id), rng)))
            yield Do(t + rng.uniform(1, 5) * MIN, CLOCK, Step.queue_callback)

    def _whistle(self, rng: Random, start: datetime, room: timedelta, handler: Actor, departments: list[str],
                 street: Street) -> list[Do]:
        """吹哨报到: the street summons two or three departments; each reports for duty, then its part done."""
        wanted = rng.sample(departments, min(len(departments), rng.choice((1, 2))))
        police = f"ga-{street.district_code[:6]}"
        if police in self.city.branches and police not in wanted and rng.random() < 0.4:
            wanted.append(police)
        at = start + room * rng.uniform(0.02, 0.15)
        steps = [Do(at, handler, Step.whistle, svc.StepInput(
            units=wanted, reason="问题涉及多个部门职责，吹哨召集联合执法"))]
        rest = start + room - at
        for code in wanted:
            branch = Actor(username=f"h-{code}", role=Role.unit_handler, unit_id=self.city.branches[code])
            steps.append(Do(at + rest * rng.uniform(0.02, 0.2), branch, Step.summons_sign))
            steps.append(Do(at + rest * rng.uniform(0.4, 0.95), branch, Step.summons_report,
                            svc.StepInput(text="已到场参与联合处置，本部门职责范围内问题已处理完毕")))
        return steps

    def _reply_text(self, p: Plan, unit: tuple[str, int], rng: Random) -> str:
        topic = f"“{p.new.title}”" if p.new.title else "的"
        action = rng.choice(ACTIONS.get(p.label, ACTIONS["城乡建设"]))
        return (f"您好！关于您反映{topic}问题，我单位高度重视，已安排工作人员现场核实。{action}。"
                "感谢您对我们工作的理解与支持。")


# --- the entry point ------------------------------------------------------------------------------

def _summary(session: Session) -> tuple[dict[str, int], int, int, int, int, tuple[datetime, datetime] | None]:
    demo = select(Request.id).where(Request.created_by == DEMO_USER)
    states = {state.value if hasattr(state, "value") else str(state): n for state, n in session.execute(
        select(Ticket.state, func.count()).where(Ticket.request_id.in_(demo)).group_by(Ticket.state))}
    overdue = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.request_id.in_(demo), (Ticket.sign_overdue.is_(True)) | (Ticket.reply_overdue.is_(True)))) or 0
    escalated = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.request_id.in_(demo), Ticket.escalated.is_(True))) or 0
    requests = session.scalar(select(func.count()).select_from(Request).where(Request.created_by == DEMO_USER)) or 0
    first, last = session.execute(select(func.min(Request.created_at), func.max(Request.created_at))
                                  .where(Request.created_by == DEMO_USER)).one()
    window = (first, last) if first is not None else None
    return states, overdue, escalated, requests - sum(states.values()), sum(states.values()), window


def seed_demo(session_factory: SessionFactory, clock_start: datetime, settings: Settings, *, tickets: int = 3000,
              days: int = 90, seed: int = 12345, progress: Progress | None = None) -> SimReport:
    """Create `tickets` demo tickets (plus about a tenth as many inquiries answered at once), created over the
    `days` days before `clock_start`, the simulated present (pass the real now), and moved through the
    workflow up to that moment. Commits every 200 requests, each batch in its own unit_of_work on
    `session_factory`. Nothing after `clock_start` happens. If demo requests (created by 'demo-sim') exist
    already, adds nothing and says so."""
    started = time.perf_counter()
    if clock_start.tzinfo is None:
        raise InvalidInput("clock_start must be timezone-aware", field="clock_start")
    if tickets < 1 or days < 1:
        raise InvalidInput("tickets and days must be at least 1", field="tickets" if tickets < 1 else "days")
    now = clock_start.astimezone(UTC)
    with unit_of_work(session_factory) as session:
        states, overdue, escalated, answers, count, window = _summary(session)
        if count or answers:
            return SimReport(True, count, answers, 0, states, overdue, escalated, window,
                             time.perf_counter() - started,
                             f"demo data is there already ({count} tickets by {DEMO_USER}): nothing added")
        city = _load_city(session)
        calendar = load_calendar(session, settings)
    rng = Random(seed)
    planner = _Planner(city, load_corpus(), rng)
    start = now - timedelta(days=days)
    # The demo logins' work is part of the tickets asked for (the citizen's own requests come on top), when there
    # are enough of them for it to stay a small part.
    staff = _staff_specs(city)
    if tickets < STAFF_SHARE * len(staff):
        staff = []
    ours = sum(spec.work.filer is None for spec in staff)
    story = _story(planner, rng, now, days, tickets - ours, settings, calendar.is_workday)
    inside = len(story.calls) - story.before_window  # the story's older calls come on top
    ticket_times = _instants(rng, tickets - ours - inside, start, now, settings.tz, calendar.is_workday)
    answer_times = _instants(rng, tickets // 10, start, now, settings.tz, calendar.is_workday)
    plans = _plans(planner, rng, ticket_times, answer_times, now, staff, story.calls)
    plans.sort(key=lambda p: (p.created_at, p.index))
    order = {p.index: i for i, p in enumerate(plans)}
    for p in plans:  # indexes follow time order, so the scheduler's ties break the same way every run
        p.index = order[p.index]
        if p.parent is not None:
            p.parent = order[p.parent]
    sim = _Sim(city, plans, now, settings, seed)
    sim.run(session_factory, progress)
    governed = None
    if story.calls:  # what the centre did with them: mined, made 天堂河 a project, adopted the topic
        if progress:
            progress("governance", len(plans), len(plans))
        governed = govern(session_factory, now, settings, story)
    with unit_of_work(session_factory) as session:
        states, overdue, escalated, answers, count, window = _summary(session)
    if progress:
        progress("done", len(plans), len(plans))
    return SimReport(False, count, answers, sim.events, states, overdue, escalated, window,
                     time.perf_counter() - started, story=story, governed=governed)


def _complex(short: str) -> str:
    """What callers call a community's housing: 天堂河社区 -> 天堂河小区."""
    name = short.removesuffix("居民委员会").removesuffix("居委会")
    return name[:-2] + "小区" if name.endswith("社区") else name if name.endswith("村") else name + "小区"


def _story(planner: _Planner, rng: Random, now: datetime, days: int, tickets: int, settings: Settings,
           is_workday) -> tale.Story:
    """The governance story's calls (jiesu/demo/story.py), in the hotline's daily and weekly rhythm; the topic's
    from one community of every street the demo's calls come from."""
    complexes = {code: (st.code, _complex(short)) for group in planner.city.streets_by_district.values()
                 for st in group for code, short in st.communities}
    topic = [st.communities[(len(st.code) + int(st.code[-6:-3])) % len(st.communities)][0]
             for group in planner.streets.values() for st in group if st.communities]
    return tale.plan(rng, now, days, tickets, settings.tz,
                     lambda r, n, a, b: _instants(r, n, a, b, settings.tz, is_workday), complexes, topic)


__all__ = ["DEMO_USER", "SimReport", "seed_demo"]
