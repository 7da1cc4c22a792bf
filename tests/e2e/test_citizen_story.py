"""Issue 17's "What it must show", end to end on a phone (390 x 844) against `jiesu serve` on the demo city: a new
citizen registers by phone code, reports with a photo and their location, finds the request in 我的诉求; staff
dispatch it to 观音寺街道, which signs and replies (through the API, as the demo's dispatcher and street); the
citizen reloads, reads in their own words where it went and the street's reply, answers the survey and is thanked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_citizen_app import HERE, PHONE, TEXT, fits, photo
from tests.e2e.test_pages import browser  # noqa: F401  (the fixture, with this module's server)
from tests.e2e.test_phone_login import read_code
from tests.served import demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

from playwright.sync_api import expect  # noqa: E402

SHOTS = "/tmp/shots17/i17-e2e"
GUANYINSI = "110115009000"  # 观音寺街道's unit in the demo
PHONE_NUMBER = "13900005678"
REPLY = "经现场核实，首座御园南门外路灯的线路老化，已更换灯具和线路，今晚起恢复照明。"


@pytest.fixture(scope="module")
def served(request):
    need_chromium()
    env = demo_env(request, "e2e-story", JIESU_SMS_SENDER="tests.e2e.test_phone_login:FileGateway")
    with serving(env) as url:
        yield url, Path(env["JIESU_VAR_DIR"])


@pytest.fixture(scope="module")
def server(served):
    return served[0]


def staff_token(request, server: str, username: str) -> dict[str, str]:
    login = request.post(f"{server}/api/v1/auth/login", data={"username": username, "password": "jiesu12345"})
    assert login.ok, login.text()
    return {"Authorization": f"Bearer {login.json()['token']}"}


def step(request, server: str, auth: dict, number: str, action: str, body: dict) -> dict:
    done = request.post(f"{server}/api/v1/tickets/{number}/{action}", headers=auth, data=body)
    assert done.ok, f"{action}: {done.status} {done.text()}"
    return done.json()


def test_a_new_citizen_reports_staff_answer_and_the_citizen_rates_it(browser, served, tmp_path):  # noqa: F811
    server, var = served
    shots = Path(SHOTS)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  device_scale_factor=1, geolocation=HERE, permissions=["geolocation"])
    pg = context.new_page()
    pg.set_default_timeout(15_000)

    # Registers by mobile number and one-time code.
    pg.goto(f"{server}/login")
    pg.get_by_label("手机号码").fill(PHONE_NUMBER)
    pg.get_by_role("button", name="获取验证码").click()
    pg.get_by_label("验证码").fill(read_code(var, PHONE_NUMBER))
    pg.get_by_role("button", name="登录", exact=True).click()
    pg.wait_for_url(re.compile(re.escape(server) + r"/(app)?$"))
    expect(pg.locator("header")).to_contain_text("市民5678")

    # Reports with a photo and the location.
    pg.goto(f"{server}/app/report")
    # Large text: labels and legends follow the reader's root font size (15 px at 100 %, 22.5 px at 150 %).
    sizes = "[...document.querySelectorAll('main label, main legend')].map(e => getComputedStyle(e).fontSize)"
    assert set(pg.evaluate(sizes)) == {"15px"}
    pg.evaluate("document.documentElement.style.fontSize = '150%'")
    assert set(pg.evaluate(sizes)) == {"22.5px"}
    fits(pg)
    pg.screenshot(path=str(shots / "story-report-large-text-390.png"), full_page=True)
    pg.evaluate("document.documentElement.style.fontSize = ''")
    pg.get_by_label("投诉").check()
    pg.get_by_label("问题描述").fill(TEXT)
    pg.get_by_role("button", name="用我的位置").click()
    expect(pg.locator("#located")).to_contain_text("大兴区")
    pg.get_by_label("搜索社区或街道").fill("观音寺")
    pg.locator("#place-results button").filter(has_text="观音寺街道").first.click()
    expect(pg.locator("#place-chosen")).to_contain_text("观音寺街道")
    pg.set_input_files("#photos", str(photo(tmp_path / "lamp.png")))
    expect(pg.locator("#previews img")).to_have_count(1)
    pg.get_by_role("button", name="提交").click()
    pg.wait_for_url(re.compile(r".*/app/requests/\d{8}-\d{6}\?done=report$"))
    number = re.search(r"/app/requests/([0-9-]+)", pg.url).group(1)
    expect(pg.locator(".app-photos img")).to_have_count(1)
    assert "观音寺" in pg.locator("dl.facts").inner_text()
    pg.screenshot(path=str(shots / "story-reported-390.png"), full_page=True)

    # Finds it in 我的诉求.
    pg.get_by_role("banner").get_by_role("link", name="我的诉求").click()
    pg.wait_for_url(f"{server}/app/requests")
    mine = pg.locator("#mine").locator(f"a[href='/app/requests/{number}']")
    expect(mine).to_have_count(1)
    fits(pg)

    # Staff act on it: the centre dispatches it to 观音寺街道, which signs and replies.
    staff = browser.new_context()
    dispatcher = staff_token(staff.request, server, "dispatcher")
    street = staff_token(staff.request, server, "guanyinsi")
    step(staff.request, server, dispatcher, number, "dispatch", {"unit": GUANYINSI})
    step(staff.request, server, street, number, "sign", {})
    replied = step(staff.request, server, street, number, "reply", {"text": REPLY})
    assert replied["state"] == "replied", replied["state"]
    staff.close()

    # The citizen reloads: where it went and the reply, in their words.
    pg.goto(f"{server}/app/requests/{number}")
    expect(pg.get_by_role("heading", level=1)).to_have_text("已答复")
    timeline = pg.locator(".app-timeline")
    expect(timeline).to_contain_text("已派至观音寺街道")
    expect(timeline).to_contain_text(re.compile("观音寺街道(办事处)?已答复"))
    expect(pg.locator(".app-reply")).to_contain_text(REPLY)
    fits(pg)
    pg.screenshot(path=str(shots / "story-replied-390.png"), full_page=True)

    # Answers the survey, and is thanked.
    survey = pg.locator(".app-survey")
    expect(survey).to_be_visible()
    survey.get_by_label("联系了", exact=True).check()
    survey.get_by_label("已解决", exact=True).check()
    survey.get_by_label("满意", exact=True).check()
    survey.get_by_role("button", name="提交评价").click()
    pg.wait_for_url(re.compile(r".*\?done=survey$"))
    expect(pg.get_by_role("status").first).to_contain_text("感谢您的评价")
    expect(pg.get_by_role("heading", level=1)).to_have_text("已办结")
    pg.screenshot(path=str(shots / "story-thanked-390.png"), full_page=True)
    context.close()
