"""The knowledge base on SQLite and PostgreSQL: search ranks the obvious answer first on both engines and never
shows what is not live (or not public, to citizens); the review; the word counts; direct answers close an
inquiry without a ticket and are counted apart; proposals from repeated replies; the demo's articles."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from jiesu.data.teddy import PLACEHOLDER
from jiesu.errors import InvalidInput, PermissionDenied, TransitionNotAllowed
from jiesu.knowledge import rules
from jiesu.knowledge import service as kb
from jiesu.knowledge.models import Article, DirectAnswer, Term
from jiesu.knowledge.rules import ArticleStatus, Step
from jiesu.permissions import ANONYMOUS, SYSTEM, Actor, Role
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import Outcome, Request, Ticket
from jiesu.tickets.rules import Step as TicketStep
from tests import forms
from tests.integration.test_tickets import STREET, handling
from tests.stories import Hotline

OPERATOR = Actor(username="op", role=Role.operator)
CITIZEN = Actor(username="citizen", role=Role.citizen)

ARTICLES = {
    "hukou": ("新生儿如何办理户口登记？",
              "新生儿出生一个月内，由父母一方持《出生医学证明》、父母双方户口簿和身份证、结婚证到户籍所在地派出所办理出生登记。"),
    "rental": ("公租房怎么申请？",
               "申请公共租赁住房需持户口簿、身份证、收入证明到户籍所在地街道办事处住房保障窗口提交申请，"
               "经街道初审、区住房保障部门复审、公示无异议后轮候配租。"),
    "parking": ("小区停车费收费标准是多少？",
                "住宅小区停车收费由业主大会决定，物业服务企业应在小区显著位置公示收费标准，不得擅自提高。"
                "对乱收费可向区发展改革委价格举报。"),
    "pension": ("养老保险断缴后可以补缴吗？",
                "城镇职工基本养老保险中断缴费的，可以在重新就业后接续缴费，累计计算缴费年限；"
                "灵活就业人员可到社保经办机构按规定补缴。"),
    "heating": ("供暖季什么时候开始？", "本市供暖季为每年11月15日至次年3月15日，遇天气变化可提前或延长供暖。"),
    "gas": ("燃气泄漏怎么办？", "立即关闭燃气总阀门，打开门窗通风，不要开关电器，到室外拨打燃气公司抢修电话。"),
}
QUERIES = {  # what callers say, none in the article's own words only
    "hukou": "我家孩子上个月刚出生，想问一下新生儿怎么给孩子上户口，需要带什么材料",
    "rental": "我想申请公租房，请问要准备哪些材料，去哪里申请",
    "parking": "我们小区物业说要涨停车费，停车费收费标准是谁定的",
    "pension": "我之前养老保险断缴了两年，现在还能补缴吗",
    "heating": "今年供暖什么时候开始啊，家里太冷了",
}


def publish(session, clock, key: str, **fields) -> Article:
    question, answer = ARTICLES[key]
    return kb.create(session, SYSTEM, clock, kb.ArticleInput(question, answer, **fields), publish=True)


@pytest.fixture
def base(session, clock) -> dict[str, Article]:
    return {key: publish(session, clock, key) for key in ARTICLES}


def top(session, clock, settings, text: str, actor: Actor = OPERATOR, **kw) -> list[str]:
    return [h.article.question for h in kb.search(session, actor, clock, settings, text, **kw).hits]


# --- search ---------------------------------------------------------------------------------------

def test_each_engine_ranks_the_obvious_answer_first(session, clock, settings, base):
    for key, text in QUERIES.items():
        found = kb.search(session, OPERATOR, clock, settings, text)
        assert found.hits, (key, found)
        assert found.hits[0].article.id == base[key].id, (key, [h.article.question for h in found.hits])
        assert found.hits[0].matched and set(found.hits[0].matched) <= set(found.terms)
        assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)


def test_a_question_word_outweighs_the_same_word_in_an_answer(session, clock, settings, base):
    # 公租房 is in the question of one, 公共租赁住房 (and 户口簿) in its answer; 户口 in the newborn question
    assert top(session, clock, settings, "户口")[0] == ARTICLES["hukou"][0]
    assert top(session, clock, settings, "公租房")[0] == ARTICLES["rental"][0]
    assert top(session, clock, settings, "住房保障")[0] == ARTICLES["rental"][0]  # found by its answer too


def test_nothing_to_find(session, clock, settings, base):
    assert kb.search(session, OPERATOR, clock, settings, "   ").hits == []
    r = kb.search(session, OPERATOR, clock, settings, "的了吗")  # stopwords only
    assert r.hits == [] and r.terms == []
    r = kb.search(session, OPERATOR, clock, settings, "量子计算机")  # unknown words
    assert r.hits == [] and r.terms == [] and r.ignored
    with pytest.raises(InvalidInput):
        kb.search(session, OPERATOR, clock, settings, "户口", limit=0)


def test_only_live_articles_are_found_and_citizens_see_the_public_ones(session, clock, settings, base):
    today = kb.today(clock, settings)
    question = "供暖季什么时候开始？"
    heating = base["heating"]
    assert top(session, clock, settings, question)[0] == question
    heating.valid_to = today - timedelta(days=1)  # out of date
    session.flush()
    assert question not in top(session, clock, settings, question)
    heating.valid_to, heating.valid_from = None, today + timedelta(days=1)  # not yet
    session.flush()
    assert question not in top(session, clock, settings, question)
    heating.valid_from = today
    session.flush()
    assert top(session, clock, settings, question)[0] == question
    kb.act(session, SYSTEM, clock, heating.id, Step.expire)
    assert question not in top(session, clock, settings, question)
    draft = kb.create(session, SYSTEM, clock, kb.ArticleInput("供暖费怎么缴纳？", "供暖费可在热力公司营业厅缴纳。"))
    assert draft.status == ArticleStatus.draft
    assert "供暖费怎么缴纳？" not in top(session, clock, settings, "供暖费缴纳")
    # internal articles: staff only
    gas = base["gas"]
    gas.public = False
    session.flush()
    assert top(session, clock, settings, "燃气泄漏", OPERATOR)[0] == gas.question
    assert gas.question not in top(session, clock, settings, "燃气泄漏", CITIZEN)
    assert gas.question not in top(session, clock, settings, "燃气泄漏", ANONYMOUS)


def test_area_and_category_narrow_the_search(session, clock, settings):
    daxing, haidian = "110115000000", "110108000000"
    def new(question: str, answer: str, area: str | None = None) -> Article:
        return kb.create(session, SYSTEM, clock, kb.ArticleInput(question, answer, area_code=area), publish=True)

    a = new("大兴区垃圾分类投放时间", "大兴区厨余垃圾定时定点投放，每天早7点至9点。", daxing)
    b = new("海淀区垃圾分类投放时间", "海淀区厨余垃圾定时定点投放，每天早6点半至8点半。", haidian)
    city = new("垃圾分类有几类？", "分为厨余垃圾、可回收物、有害垃圾和其他垃圾。")
    found = {h.article.id for h in kb.search(session, OPERATOR, clock, settings, "垃圾分类投放", area_code=STREET).hits}
    assert found == {a.id, city.id}  # 观音寺街道 is in 大兴区: its district's article and the city's
    assert b.id in {h.article.id for h in kb.search(session, OPERATOR, clock, settings, "垃圾分类投放").hits}
    level1 = session.scalar(select(Category).where(Category.level == 1, Category.name == "环境保护"))
    a.category_id = level1.id
    session.flush()
    assert [h.article.id for h in kb.search(session, OPERATOR, clock, settings, "垃圾分类",
                                            category_code=level1.code).hits] == [a.id]
    with pytest.raises(InvalidInput) as exc:
        kb.search(session, OPERATOR, clock, settings, "垃圾", area_code="nowhere")
    assert exc.value.field == "area_code"


def test_the_word_counts_follow_every_change_and_match_a_rebuild(session, clock, settings, base):
    def counts():
        return dict(session.execute(select(Term.term, Term.df).where(Term.df != 0)).all())

    question = "电动自行车在哪里充电？"
    a = kb.create(session, SYSTEM, clock, kb.ArticleInput(question, "小区设有电动自行车集中充电棚。"))
    kb.edit(session, SYSTEM, clock, a.id, kb.ArticleInput(question, "请到小区集中充电棚充电，严禁飞线充电。"))
    b = kb.create(session, SYSTEM, clock, kb.ArticleInput("临时草稿", "待删除的草稿内容。"))
    kb.delete(session, SYSTEM, b.id)
    live = counts()
    expected = Counter()
    for art in session.scalars(select(Article)):
        expected.update(rules.unique_terms(art.question_terms, art.answer_terms))
    expected[kb.ALL_DOCS] = session.scalar(select(func.count()).select_from(Article))
    assert live == dict(expected)
    assert kb.rebuild_index(session, SYSTEM, resegment=True) == len(ARTICLES) + 1
    assert counts() == dict(expected)
    assert top(session, clock, settings, QUERIES["hukou"])[0] == ARTICLES["hukou"][0]  # the FTS index is whole


# --- the review -------------------------------------------------------------------------------------

def test_a_department_writes_an_article_and_the_centre_reviews_it(session, clock, settings, cast):
    police = cast.police  # 大兴公安分局's handler
    a = kb.create(session, police, clock,
                  kb.ArticleInput("身份证丢了怎么补办？", "携带户口簿到户籍所在地派出所办理补领。"))
    assert a.unit.code == "ga-110115" and a.status == ArticleStatus.draft
    with pytest.raises(PermissionDenied):  # a department does not publish its own articles
        kb.act(session, police, clock, a.id, Step.approve)
    with pytest.raises(PermissionDenied):
        kb.create(session, police, clock, kb.ArticleInput("问", "答"), publish=True)
    with pytest.raises(PermissionDenied):  # nor write in another's name
        kb.create(session, police, clock, kb.ArticleInput("问", "答", unit_code="cgzf-110115"))
    with pytest.raises(kb.ArticleNotFound):  # another unit's articles are none of its business
        kb.edit(session, cast.chengguan, clock, a.id, kb.ArticleInput("问", "答"))
    with pytest.raises(PermissionDenied):  # operators answer from the base but do not write it
        kb.create(session, cast.operator, clock, kb.ArticleInput("问", "答"))
    assert kb.get(session, police, clock, settings, a.id).id == a.id
    with pytest.raises(kb.ArticleNotFound):  # not live: other staff do not see it
        kb.get(session, cast.operator, clock, settings, a.id)
    kb.act(session, police, clock, a.id, Step.submit)
    with pytest.raises(InvalidInput):
        kb.act(session, cast.admin, clock, a.id, Step.reject)  # a rejection says why
    kb.act(session, cast.admin, clock, a.id, Step.reject, note="请写明办理时限")
    assert a.status == ArticleStatus.draft and a.review_note == "请写明办理时限"
    kb.edit(session, police, clock, a.id, kb.ArticleInput("身份证丢了怎么补办？",
                                                          "携带户口簿到户籍所在地派出所办理补领，一般20个工作日内办结。"))
    kb.act(session, police, clock, a.id, Step.submit)
    kb.act(session, cast.admin, clock, a.id, Step.approve, note="可以发布")
    assert (a.status, a.reviewed_by) == (ArticleStatus.published, "admin")
    assert top(session, clock, settings, "身份证丢了去哪里补办")[0] == "身份证丢了怎么补办？"
    with pytest.raises(TransitionNotAllowed):  # published: revised before it changes
        kb.edit(session, police, clock, a.id, kb.ArticleInput("身份证丢了怎么补办？", "新的答复"))
    with pytest.raises(TransitionNotAllowed):
        kb.act(session, cast.admin, clock, a.id, Step.approve)
    kb.act(session, police, clock, a.id, Step.revise)
    assert a.status == ArticleStatus.draft
    assert "身份证丢了怎么补办？" not in top(session, clock, settings, "身份证丢了去哪里补办")
    with pytest.raises(TransitionNotAllowed):  # it was published once: expired, not deleted
        kb.delete(session, police, a.id)
    page, total = kb.list_articles(session, police, kb.ArticleFilter())
    assert total == 1 and page[0].id == a.id
    assert kb.list_articles(session, cast.admin, kb.ArticleFilter(status=ArticleStatus.draft))[1] >= 1


def test_expire_due_marks_the_articles_past_their_validity(session, clock, settings, base):
    base["heating"].valid_to = kb.today(clock, settings) - timedelta(days=1)
    session.flush()
    assert kb.expire_due(session, SYSTEM, clock, settings) == 1
    assert base["heating"].status == ArticleStatus.expired


# --- direct answers -----------------------------------------------------------------------------------

@pytest.fixture
def hotline(client, session, clock) -> Hotline:
    return Hotline(client, session, clock)


def test_an_inquiry_is_answered_from_the_base_and_closed_without_a_ticket(hotline, session, clock, base):
    op = hotline.login("op", Role.operator)
    admin = hotline.login("root", Role.admin)
    c = hotline.client
    r = c.get("/api/v1/knowledge/search", params={"q": QUERIES["hukou"]}, headers=op)
    assert r.status_code == 200, r.text
    hit = r.json()["hits"][0]
    assert hit["id"] == base["hukou"].id and "户口" in hit["matched"]
    tickets_before = session.scalar(select(func.count()).select_from(Ticket))
    r = c.post("/api/v1/knowledge/answers", headers=op | {"Idempotency-Key": "call-1"},
               json={"text": QUERIES["hukou"], "article_id": hit["id"], "contact_phone": "13800000000"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["outcome"] == "direct_answer" and out["direct_answer"] == hit["answer"] and not out["edited"]
    again = c.post("/api/v1/knowledge/answers", headers=op | {"Idempotency-Key": "call-1"},
                   json={"text": QUERIES["hukou"], "article_id": hit["id"], "contact_phone": "13800000000"})
    assert again.status_code == 201 and again.json()["replayed"] and again.json()["request_id"] == out["request_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    request = session.get(Request, out["request_id"])
    assert request.outcome == Outcome.direct_answer and request.request_type == "inquiry"
    assert session.scalar(select(func.count()).select_from(Ticket)) == tickets_before  # nothing dispatched
    record = session.scalar(select(DirectAnswer).where(DirectAnswer.request_id == request.id))
    assert record.article_id == base["hukou"].id
    # the operator adapts the answer
    r = c.post("/api/v1/knowledge/answers", headers=op,
               json={"text": QUERIES["parking"], "article_id": base["parking"].id,
                     "answer": ARTICLES["parking"][1] + "您所在小区的收费标准可向物业索取。"})
    assert r.status_code == 201 and r.json()["edited"] is True
    # a complaint still becomes a ticket: counted apart
    hotline.create(op, text="楼下餐馆油烟扰民", request_type="complaint", area_code=STREET)
    month = clock.now().strftime("%Y-%m")
    r = c.get("/api/v1/knowledge/stats", params={"month": month}, headers=op)
    assert r.status_code == 200, r.text
    [m] = r.json()["months"]
    assert (m["direct_answers"], m["from_articles"], m["edited"], m["tickets"]) == (2, 2, 1, 1)
    assert m["requests"] == 3 and m["direct_share"] == pytest.approx(2 / 3)
    assert {a["id"] for a in r.json()["top_articles"]} == {base["hukou"].id, base["parking"].id}
    # an expired article answers no one
    c.post(f"/api/v1/knowledge/articles/{base['gas'].id}/expire", headers=admin, json={})
    r = c.post("/api/v1/knowledge/answers", headers=op, json={"text": "燃气泄漏怎么办", "article_id": base["gas"].id})
    assert r.status_code == 422 and r.json()["error"]["field"] == "article_id"
    # citizens and units do not close inquiries
    citizen = hotline.login("citizen", Role.citizen)
    r = c.post("/api/v1/knowledge/answers", headers=citizen, json={"text": "户口", "article_id": base["hukou"].id})
    assert r.status_code == 403


def test_the_public_part_is_searched_without_a_login(hotline, session, clock, base):
    base["gas"].public = False
    session.flush()
    c = hotline.client
    r = c.get("/api/v1/knowledge/search", params={"q": "燃气泄漏 供暖"})
    assert r.status_code == 200, r.text
    ids = [h["id"] for h in r.json()["hits"]]
    assert base["heating"].id in ids and base["gas"].id not in ids
    assert c.get(f"/api/v1/knowledge/articles/{base['gas'].id}").status_code == 404
    assert c.get(f"/api/v1/knowledge/articles/{base['heating'].id}").json()["question"] == ARTICLES["heating"][0]
    assert c.get("/api/v1/knowledge/articles").status_code == 401
    assert c.get("/api/v1/knowledge/search", params={"q": ""}).status_code == 422


def test_articles_over_the_api(hotline, session, clock):
    admin = hotline.login("root", Role.admin)
    police = hotline.login("h-police", Role.unit_handler, "ga-110115")
    c = hotline.client
    r = c.post("/api/v1/knowledge/articles", headers=police,
               json={"question": "居住证怎么办理？", "answer": "持租房合同和身份证到社区服务站申请。",
                     "valid_to": (date(2024, 9, 30) + timedelta(days=365)).isoformat()})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["status"] == "draft" and a["unit_code"] == "ga-110115" and a["status_label"] == "草稿"
    r = c.put(f"/api/v1/knowledge/articles/{a['id']}", headers=police,
              json={"question": "居住证怎么办理？", "answer": "持租房合同、身份证到居住地社区服务站申请。",
                    "expected_version": 99})
    assert r.status_code == 409
    assert c.post(f"/api/v1/knowledge/articles/{a['id']}/submit", headers=police).status_code == 200
    assert c.post(f"/api/v1/knowledge/articles/{a['id']}/approve", headers=police).status_code == 403
    r = c.post(f"/api/v1/knowledge/articles/{a['id']}/approve", headers=admin, json={"note": "ok"})
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert c.post(f"/api/v1/knowledge/articles/{a['id']}/approve", headers=admin).status_code == 409
    assert c.post(f"/api/v1/knowledge/articles/{a['id']}/fly", headers=admin).status_code == 422
    assert c.get("/api/v1/knowledge/articles/999999", headers=admin).status_code == 404
    r = c.get("/api/v1/knowledge/articles", headers=police, params={"status": "published"})
    assert r.status_code == 200 and r.json()["total"] == 1
    r = c.post("/api/v1/knowledge/articles", headers=admin, params={"publish": "true"},
               json={"question": "问", "answer": "答", "valid_from": "2024-10-01", "valid_to": "2024-09-01"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "valid_to"


# --- proposals --------------------------------------------------------------------------------------

REPLY = ("您好！您的留言已收悉。现将有关情况回复如下：经核实，该路段路灯损坏系线路老化所致，"
         "我街道已联系路灯管理所更换线路，路灯已恢复照明。感谢您对我们工作的支持！2024年9月30日")


def test_replies_given_again_and_again_are_proposed_as_articles(session, clock, settings, desk, cast):
    for i in range(3):
        t = handling(desk, cast, text=f"观音寺街道兴华路{i + 1}号附近路灯不亮，晚上走路很黑，请尽快修复路灯。",
                     title="路灯不亮")
        desk.act(cast.handler, t, TicketStep.reply, text=REPLY)
    other = handling(desk, cast, text="楼下餐馆油烟扰民，晚上排风机噪音很大。")
    desk.act(cast.handler, other, TicketStep.reply, text="已责令餐馆整改油烟净化设施。")
    [p] = kb.propose(session, SYSTEM, clock)
    assert p.count == 3 and p.unit_code == STREET and p.question == "路灯不亮"
    assert p.answer.startswith("经核实，该路段路灯损坏") and "感谢" not in p.answer and "2024" not in p.answer
    [article] = kb.accept_proposals(session, SYSTEM, clock, [p])
    assert article.status == ArticleStatus.draft and article.source == "replies"
    assert kb.propose(session, SYSTEM, clock) == []  # made into an article already
    with pytest.raises(PermissionDenied):
        kb.propose(session, cast.operator, clock)


# --- the demo ---------------------------------------------------------------------------------------

def test_the_demo_articles_come_from_the_replied_messages(session, clock, settings):
    report = kb.seed_demo(session, SYSTEM, clock, limit=200)
    assert report.created == 200
    assert kb.seed_demo(session, SYSTEM, clock).created == 0  # once
    articles = list(session.scalars(select(Article).where(Article.source == kb.DEMO_SOURCE)))
    assert all(a.status == ArticleStatus.published and a.area_id and a.question_terms for a in articles)
    assert not any(PLACEHOLDER.search(a.question + a.answer) for a in articles)
    assert sum(not a.public for a in articles) in range(5, 40)
    sample = articles[17]
    found = kb.search(session, OPERATOR, clock, settings, sample.question, limit=3)
    assert sample.id in [h.article.id for h in found.hits]


# --- the operator console (server-rendered; the browser test drives its JavaScript) --------------------

def test_the_console_answers_an_inquiry_and_files_a_complaint(hotline, session, clock, base):
    from tests.stories import PASSWORD

    hotline.login("op", Role.operator)
    c = hotline.client
    assert c.get("/console", follow_redirects=False).headers["location"] == "/login?next=/console"
    r = forms.post(c, "/login", data={"username": "op", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303
    page = c.get("/console")
    assert page.status_code == 200 and 'href="/console"' in page.text and "直接答复统计" in page.text
    r = forms.post(c, "/console", data={"action": "search", "text": QUERIES["pension"], "request_type": "inquiry"})
    assert r.status_code == 200 and ARTICLES["pension"][0] in r.text
    tickets_before = session.scalar(select(func.count()).select_from(Ticket))
    r = forms.post(c, "/console", data={"action": "answer", "text": QUERIES["pension"], "request_type": "inquiry",
                                 "article_id": str(base["pension"].id), "answer": ARTICLES["pension"][1]},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console?answered=")
    request_id = int(r.headers["location"].split("=")[1])
    assert "已直接答复并办结" in c.get(r.headers["location"]).text
    assert session.get(Request, request_id).outcome == Outcome.direct_answer
    assert session.scalar(select(func.count()).select_from(Ticket)) == tickets_before
    # no answer, no article: refused, the text kept
    r = forms.post(c, "/console", data={"action": "answer", "text": "随便问问", "request_type": "inquiry"})
    assert r.status_code == 422 and "请填写答复内容" in r.text and "随便问问" in r.text
    r = forms.post(c, "/console", data={"action": "answer", "text": "楼下噪音", "request_type": "complaint",
                                        "answer": "x"})
    assert r.status_code == 422 and "只有咨询类诉求可以直接答复" in r.text
    r = forms.post(c, "/console", data={"action": "ticket", "text": "楼下餐馆油烟扰民，请处理。",
                                        "request_type": "complaint"}, follow_redirects=False)
    assert r.status_code == 303 and "ticket=" in r.headers["location"]
    assert session.scalar(select(func.count()).select_from(Ticket)) == tickets_before + 1
    # who may not
    hotline.login("h-street", Role.unit_handler, STREET)
    forms.post(c, "/logout")
    forms.post(c, "/login", data={"username": "h-street", "password": PASSWORD})
    assert c.get("/console").status_code == 403
    assert 'href="/console"' not in c.get("/").text
