"""The public page (/public) in Debian's Chromium on a phone (390 x 844), anonymous, against `jiesu serve` on
the demo city: the district map is drawn (SVG paths shaded by the page's script), the measure can be switched,
and a district opens its page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.served import chromium, demo_env, need_chromium, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

SHOTS = Path(os.environ.get("JIESU_SHOTS", "/tmp/shots17/i17-public"))


@pytest.fixture(scope="module")
def server(request):
    need_chromium()
    env = demo_env(request, "e2e-public")
    with serving(env) as url:
        yield url


def test_an_anonymous_visitor_reads_the_map_and_opens_a_district(server):
    with chromium(playwright) as browser:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.goto(server + "/public")
        assert page.locator("h1").inner_text().startswith("北京市")
        paths = page.locator("#district-map path[data-code]")
        assert paths.count() == 16
        page.wait_for_function("document.querySelector('#district-map path').style.fill !== ''")
        legend = page.locator("#map-legend")
        assert legend.inner_text().startswith("受理量")
        # no wider than the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "public-city-390.png"))
        page.locator("#district-map").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "public-city-map-390.png"))

        page.get_by_label("按指标着色").select_option("in_time")
        assert legend.inner_text().startswith("按时答复率")
        assert context.cookies() == []  # the public pages set no cookie

        code = paths.nth(5).get_attribute("data-code")
        paths.nth(5).click()
        page.wait_for_url(f"{server}/public/{code}")
        assert page.locator("nav.crumbs a").first.inner_text() == "全市"
        assert page.locator("#district-map path.here").count() == 1
        page.screenshot(path=str(SHOTS / "public-district-390.png"))
        street = page.locator("section table.figures").nth(1).locator("tbody a").first
        street.click()
        page.wait_for_url(f"{server}/public/{code}/**")
        page.screenshot(path=str(SHOTS / "public-street-390.png"))
        page.locator("#replies-title").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / "public-replies-390.png"))
        context.close()
