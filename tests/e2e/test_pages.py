"""A person in a real browser: Debian's Chromium driven by Playwright, against `jiesu serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("JIESU_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing on CI: .ci/run should have installed Debian's chromium")
        pytest.skip(f"browser tests skipped: no {CHROMIUM} (apt-get install chromium)")
    var = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    env = {**os.environ, "JIESU_VAR_DIR": str(var), "JIESU_DATABASE_URL": f"sqlite:///{var / 'e2e.db'}",
           "JIESU_PORT": str(port)}
    jiesu = [sys.executable, "-m", "jiesu.cli"]
    subprocess.run([*jiesu, "demo", "seed"], env=env, check=True, capture_output=True, timeout=300)
    proc = subprocess.Popen([*jiesu, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None:
            pytest.fail(f"jiesu serve exited: {proc.stdout.read().decode(errors='replace')}")
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser(server):
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()


def test_home_in_chinese_then_english(page, server, tmp_path):
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "接诉即办" in page.title()
    assert page.locator(".card b").first.inner_text() == "16"
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**lang=en")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Places").is_visible()


def test_search_shows_ambiguous_balizhuang(page, server):
    page.goto(server + "/")
    page.get_by_placeholder("输入地名").fill("八里庄街道")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url("**/places?q=*")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    text = page.locator("table").inner_text()
    assert "朝阳区" in text and "海淀区" in text
    assert page.locator(".warn").is_visible()


def test_operator_logs_in_and_sees_units(page, server):
    page.goto(server + "/units")
    page.wait_for_url("**/login")
    page.get_by_label("用户名").fill("operator")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
    page.get_by_label("密码").fill("jiesu12345")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(server + "/")
    assert "operator" in page.locator(".who").inner_text()
    page.get_by_role("link", name="承办单位").click()
    page.select_option("select[name=kind]", "street")
    page.get_by_role("button", name="查询").click()
    assert "共 349 个结果" in page.content()


def test_api_docs_render_without_a_cdn(page, server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/docs")
    page.wait_for_load_state("networkidle")
    foreign = [u for u in requests if not u.startswith(server)]
    assert foreign == []
    assert page.locator("text=Jiesu").first.is_visible()


def test_chromium_is_debians(server):
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists()
