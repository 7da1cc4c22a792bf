"""The citizens' app on a phone (390 x 844) in Debian's Chromium, against `jiesu serve` on the demo city: the demo
citizen logs in and lands in the app, reports a problem with a photo (shrunk in the browser) and their location,
picks the community, and finds the request in 我的诉求."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from tests.e2e.test_pages import browser  # noqa: F401  (the fixture, with this module's server)
from tests.served import demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SHOTS = Path("/tmp/shots17/i17-app")
PHONE = {"width": 390, "height": 844}
# 观音寺街道 (大兴区): the demo's street; the shipped boundaries are the districts', so the point finds 大兴区 and the
# citizen picks the community by name.
HERE = {"longitude": 116.33, "latitude": 39.72}
TEXT = "观音寺街道首座御园小区南门外的路灯坏了一个多星期，晚上一片漆黑，老人孩子出门很不安全，请尽快修复。"


@pytest.fixture(scope="module")
def server(request):
    need_chromium()
    env = demo_env(request, "e2e-app")
    with serving(env) as url:
        yield url


def photo(path: Path, width: int = 64, height: int = 48) -> Path:
    """A small PNG, drawn without any imaging library: a gradient, so that it is a real picture."""
    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


def fits(pg) -> None:
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], pg.url


def test_a_citizen_reports_with_a_photo_and_the_location_on_a_phone(browser, server, tmp_path):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", device_scale_factor=1,
                                  geolocation=HERE, permissions=["geolocation"])
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    manifest = pg.request.get(f"{server}/app/manifest.webmanifest")
    assert manifest.ok and manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["start_url"] == "/app" and manifest.json()["display"] == "standalone"
    assert pg.request.get(f"{server}/static/app/icon-512.png").ok

    pg.goto(f"{server}/login")
    pg.get_by_label("用户名").fill("citizen")  # the demo's citizen (jiesu/demo DEMO_USERS)
    pg.get_by_label("密码").fill("jiesu12345")
    pg.get_by_role("button", name="登录").click()
    pg.wait_for_url(f"{server}/app")
    nav = pg.locator("header nav")
    for name in ("我要反映", "我的诉求", "公开数据"):
        assert nav.get_by_role("link", name=name).is_visible()
    assert nav.locator("a[href='/tickets'], a[href='/docs']").count() == 0
    assert pg.locator("link[rel=manifest]").count() == 1
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-home-390.png"), full_page=True)

    pg.get_by_role("main").get_by_role("link", name="我要反映").click()
    pg.wait_for_url(f"{server}/app/report")
    pg.get_by_label("投诉").check()
    pg.get_by_label("问题描述").fill(TEXT)
    pg.get_by_role("button", name="用我的位置").click()
    located = pg.locator("#located")
    playwright.expect(located).to_contain_text("大兴区")
    pg.get_by_label("搜索社区或街道").fill("观音寺")
    pick = pg.locator("#place-results button").filter(has_text="观音寺街道").first
    pick.click()
    playwright.expect(pg.locator("#place-chosen")).to_contain_text("观音寺街道")
    pg.set_input_files("#photos", str(photo(tmp_path / "lamp.png")))
    playwright.expect(pg.locator("#previews img")).to_have_count(1)
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-report-390.png"), full_page=True)
    similar = pg.locator("#similar")
    if similar.is_visible():  # the demo may hold a similar open request nearby: offered, not required
        pg.screenshot(path=str(SHOTS / "app-report-similar-390.png"), full_page=True)

    pg.get_by_role("button", name="提交").click()
    pg.wait_for_url(re.compile(r".*/app/requests/\d{8}-\d{6}\?done=report$"))
    number = re.search(r"/app/requests/([0-9-]+)", pg.url).group(1)
    assert "已提交" in pg.get_by_role("status").first.inner_text()
    assert pg.get_by_role("heading", level=1).inner_text().startswith("已受理")
    shown = pg.locator(".app-photos img")
    playwright.expect(shown).to_have_count(1)
    assert shown.get_attribute("alt").endswith(".jpg")  # shrunk to a JPEG in the browser before it was sent
    shown.first.evaluate("img => img.decode()")  # loaded (wait_for_function would eval a string: the CSP refuses)
    assert pg.evaluate("document.querySelector('.app-photos img').naturalWidth") == 64  # the photo as it was sent
    facts = pg.locator("dl.facts").inner_text()
    assert "观音寺" in facts
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-request-390.png"), full_page=True)

    pg.get_by_role("banner").get_by_role("link", name="我的诉求").click()
    pg.wait_for_url(f"{server}/app/requests")
    mine = pg.locator("#mine")
    playwright.expect(mine.locator(f"a[href='/app/requests/{number}']")).to_have_count(1)
    assert "已受理" in mine.locator(f"a[href='/app/requests/{number}']").inner_text()
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-requests-390.png"), full_page=True)

    pg.goto(f"{server}/tickets")  # a staff page: sent to the app
    assert pg.url == f"{server}/app"
    context.close()


def open_requests_nearby(context, server: str) -> list[dict]:
    """Open requests of 观音寺街道 in the demo, as the dispatcher reads them through the API."""
    login = context.request.post(f"{server}/api/v1/auth/login", data={"username": "dispatcher",
                                                                      "password": "jiesu12345"})
    assert login.ok, login.text()
    auth = {"Authorization": f"Bearer {login.json()['token']}"}
    found = []
    for state in ("handling", "dispatched"):
        page = context.request.get(f"{server}/api/v1/tickets", headers=auth,
                                   params={"state": state, "district_code": "110115000000", "limit": 200})
        found += [t for t in page.json()["items"] if (t.get("area_code") or "").startswith("110115009")]
    return found


def test_a_citizen_follows_a_request_already_made_and_answers_a_survey(browser, server):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    staff = browser.new_context()
    nearby = open_requests_nearby(staff, server)
    staff.close()
    assert nearby, "the demo has open requests in 观音寺街道"
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai", device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.goto(f"{server}/login?next=/app/report")
    pg.get_by_label("用户名").fill("citizen")
    pg.get_by_label("密码").fill("jiesu12345")
    pg.get_by_role("button", name="登录").click()
    pg.wait_for_url(f"{server}/app/report")
    similar = pg.locator("#similar")
    followed = None
    for t in nearby[:5]:  # the first that is someone else's: offered as 已有人反映
        pg.get_by_label("搜索社区或街道").fill("观音寺")
        pg.locator("#place-results button").filter(has_text="观音寺街道").first.click()
        pg.get_by_label("问题描述").fill(t["text"][:300])
        try:
            playwright.expect(similar.locator(f"text={t['number']}")).to_have_count(1, timeout=5_000)
        except AssertionError:
            continue
        followed = t
        break
    assert followed is not None, "no similar open request offered"
    assert "13" not in similar.inner_text().replace(followed["number"], "")  # no phone number of theirs
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-report-similar-390.png"), full_page=True)
    similar.locator("li").filter(has_text=followed["number"]).get_by_role("button", name="已有人反映，加入关注").click()
    pg.wait_for_url(f"{server}/app/requests/{followed['number']}?done=follow")
    assert "已加入关注" in pg.get_by_role("status").first.inner_text()
    assert followed["text"][:20] not in pg.content()  # their words are theirs
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-followed-390.png"), full_page=True)

    pg.goto(f"{server}/app/requests")
    assert pg.locator("#followed").get_by_text(followed["number"]).count() == 1
    waiting = pg.locator("#mine li").filter(has_text="请评价").first  # the demo citizen's replied request
    waiting.get_by_role("link").click()
    pg.wait_for_url(re.compile(r".*/app/requests/\d{8}-\d{6}$"))
    assert pg.locator("#survey-title").is_visible()
    fits(pg)
    pg.screenshot(path=str(SHOTS / "app-survey-390.png"), full_page=True)
    survey = pg.locator(".app-survey")
    survey.get_by_label("联系了", exact=True).check()
    survey.get_by_label("已解决", exact=True).check()
    survey.get_by_label("满意", exact=True).check()
    survey.get_by_role("button", name="提交评价").click()
    pg.wait_for_url(re.compile(r".*\?done=survey$"))
    assert "感谢您的评价" in pg.get_by_role("status").first.inner_text()
    assert pg.get_by_role("heading", level=1).inner_text() == "已办结"
    context.close()
