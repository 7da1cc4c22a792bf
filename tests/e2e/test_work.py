"""The unit workbench on a phone (390x844), in a real browser on the demo city, by clicking only: the operator
takes a call and the dispatcher sends it to 观音寺街道 (the demo need not have one waiting), guanyinsi signs it on
the workbench, adds a progress note with a photo and whistles in the police; the police (h-ga-110115) report for
duty and report their part from their own workbench; guanyinsi replies. No page scrolls sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
GUANYINSI = "110115009000"
CALL = "首座御园小区3号楼有群租房，一套房子隔成十几间，楼道堆满杂物，存在消防隐患，请有关部门查处。"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture(scope="module")
def city(request):
    need_chromium()
    env = demo_env(request, "e2e-work")
    with serving(env) as url:
        yield url, Path(env["JIESU_VAR_DIR"]) / "e2e.db"


@pytest.fixture(scope="module")
def browser(city):
    with chromium(playwright) as b:
        yield b


def person(browser, server: str, username: str, phone: bool = True):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  **({"viewport": PHONE, "is_mobile": True, "has_touch": True} if phone else {}))
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/")
    return context, page


def fits(page) -> None:
    """Nothing sticks out sideways: the page is no wider than the phone's screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


def state_of(db: Path, number: str) -> tuple[str, list[tuple[str, str | None]]]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as c:
            state = c.execute(text("SELECT state FROM tickets WHERE number = :n"), {"n": number}).scalar_one()
            units = c.execute(text("SELECT u.code, tu.state FROM ticket_units tu JOIN units u ON u.id = tu.unit_id "
                                   "JOIN tickets t ON t.id = tu.ticket_id WHERE t.number = :n AND tu.role = "
                                   "'summoned'"), {"n": number}).all()
            return state, [tuple(u) for u in units]
    finally:
        engine.dispose()


def test_a_street_signs_whistles_and_replies_with_the_police_on_a_phone(browser, city, tmp_path):
    server, db = city
    expect = playwright.expect
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # the call, and its dispatch to 观音寺街道 (at a desk)
    ctx, page = person(browser, server, "operator", phone=False)
    page.goto(server + "/console")
    page.get_by_label("来电内容").fill(CALL)
    page.get_by_label("诉求类型").select_option(label="投诉")
    page.get_by_label("地点").fill("大兴区观音寺街道首座御园3号楼")
    page.get_by_role("button", name="转为工单").click()
    page.wait_for_url("**/console?ticket=*")
    number = page.url.rsplit("=", 1)[1]
    ctx.close()
    ctx, page = person(browser, server, "dispatcher", phone=False)
    page.goto(f"{server}/tickets/{number}")
    dispatch = page.locator("details.step-dispatch")
    expect(dispatch).to_have_attribute("open", "")  # the main step of a new ticket shows open (_steps.html)
    dispatch.get_by_label("承办单位").fill(GUANYINSI)
    dispatch.get_by_role("button", name="派单").click()
    expect(page.locator(".ticket-head .state")).to_have_text("待签收")
    ctx.close()

    # guanyinsi, on a phone: sign from the list, a note with a photo, the whistle
    ctx, page = person(browser, server, "guanyinsi")
    page.get_by_role("link", name="工作台").click()
    page.wait_for_url(server + "/work")
    fits(page)
    page.get_by_role("link", name="待签收").click()
    item = page.locator(f"#t-{number}")
    expect(item.locator(".countdown")).to_contain_text("剩")
    item.get_by_role("button", name="签收").click()
    page.wait_for_url("**/work?*done=sign")
    expect(page.get_by_role("status")).to_contain_text("签收")
    expect(page.locator(f"#t-{number}")).to_have_count(0)  # signed: off the list of those to sign
    page.get_by_role("link", name="办理中").click()
    item = page.locator(f"#t-{number}")
    expect(item.locator(".kind")).to_have_text("办理中")
    expect(item.locator(".countdown")).to_contain_text("个工作日")
    item.locator("details.more > summary").click()
    note = item.locator("details.step-note")
    note.locator("summary").click()
    note.get_by_label("办理进展", exact=True).fill("已到现场核实：3号楼2单元一套房隔成12间，住20余人。")
    photo = tmp_path / "site.png"
    photo.write_bytes(PNG)
    note.get_by_label("照片").set_input_files(str(photo))
    note.get_by_role("button", name="办理进展").click()
    page.wait_for_url("**/work?*done=note")
    item = page.locator(f"#t-{number}")
    item.locator("details.more > summary").click()
    whistle = item.locator("details.step-whistle")
    whistle.locator("summary").click()
    whistle.get_by_label("北京市公安局大兴区分局").check()
    whistle.get_by_label("理由").fill("群租房联合执法，请公安核查住户身份")
    page.screenshot(path=str(SCREENSHOTS / "work-phone.png"), full_page=True)
    fits(page)
    whistle.get_by_role("button", name="吹哨报到").click()
    page.wait_for_url("**/work?*done=whistle")
    item = page.locator(f"#t-{number}")
    expect(item.locator("ul.joint")).to_contain_text("待报到")
    expect(item.locator(".reply-blocked")).to_contain_text("北京市公安局大兴区分局")
    ctx.close()

    # the police, on a phone: report for duty, then report their part
    ctx, page = person(browser, server, "h-ga-110115")
    page.get_by_role("link", name="工作台").click()
    page.get_by_role("link", name="吹哨报到/协办").click()
    item = page.locator(f"#t-{number}")
    expect(item.locator(".kind")).to_have_text("被吹哨")
    item.get_by_role("button", name="报到").click()
    page.wait_for_url("**/work?*done=summons_sign")
    item = page.locator(f"#t-{number}")
    expect(item.locator("ul.joint")).to_contain_text("已报到")
    item.locator("details.more > summary").click()
    report = item.locator("details.step-summons_report")
    expect(report).to_have_attribute("open", "")  # the main step of the moment shows open
    report.get_by_label("内容").fill("已核查住户身份，2人登记暂住证")
    report.get_by_role("button", name="报到单位反馈").click()
    page.wait_for_url("**/work?*done=summons_report")
    expect(page.locator(f"#t-{number}")).to_have_count(0)  # its part is done: nothing waits for the police
    ctx.close()

    # guanyinsi sees the report, and replies
    ctx, page = person(browser, server, "guanyinsi")
    page.goto(server + "/work?tab=handling")
    item = page.locator(f"#t-{number}")
    expect(item.locator("ul.joint")).to_contain_text("已核查住户身份")
    expect(item.locator(".reply-blocked")).to_have_count(0)
    item.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "work-whistle.png"), full_page=True)
    item.locator("details.more > summary").click()
    reply = item.locator("details.step-reply")
    expect(reply).to_have_attribute("open", "")  # the main step of the moment shows open
    reply.get_by_label("内容").fill("经街道联合公安、城管执法，已拆除隔断，群租问题已整改。")
    reply.get_by_role("button", name="答复").click()
    page.wait_for_url("**/work?*done=reply")
    expect(page.locator(f"#t-{number}")).to_have_count(0)
    assert state_of(db, number) == ("replied", [("ga-110115", "reported")])
    page.goto(f"{server}/tickets/{number}")  # the ticket page on the phone: tables as cards, nothing cut off
    expect(page.locator("table.timeline")).to_contain_text("答复")
    fits(page)
    page.goto(server + "/tickets")
    fits(page)
    ctx.close()
    ctx, page = person(browser, server, "callback")
    page.goto(server + "/callbacks")
    fits(page)
    ctx.close()
