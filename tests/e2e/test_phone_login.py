"""A citizen on a phone (390×844) registers and logs in by mobile number and one-time code in a real browser,
against `jiesu serve` with an SMS gateway plugged in by the setting (JIESU_SMS_SENDER=module:Class): the test's
gateway writes each message into the var folder, where the test reads the code as the citizen reads a text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.served import app_env, chromium, jiesu, need_chromium, serving

pytestmark = pytest.mark.e2e

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")

CODE = re.compile(r"验证码为 ([0-9]{6})")


class FileGateway:
    """An SMS gateway for the test: each message appended to var_dir/sms.txt."""

    def __init__(self, settings) -> None:
        self.path = Path(settings.var_dir) / "sms.txt"

    def send(self, phone: str, text: str) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{phone}\t{text}\n")


def read_code(var: Path, phone: str) -> str:
    for _ in range(100):
        path = var / "sms.txt"
        if path.exists():
            found = [CODE.search(line).group(1) for line in path.read_text(encoding="utf-8").splitlines()
                     if line.startswith(phone + "\t")]
            if found:
                return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no code sent to {phone}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    need_chromium()
    var = tmp_path_factory.mktemp("phone-e2e")
    env = app_env(var, JIESU_SMS_SENDER=f"{__name__}:FileGateway")
    jiesu(env, "db", "upgrade")
    with serving(env, "--no-clock") as url:
        yield url, var


def test_a_citizen_registers_by_phone(served):
    """(The same number finding the same account again is tests/integration/test_phone_login.py's: a real server
    would make the test wait the minute between two codes.)"""
    url, var = served
    with chromium(playwright) as browser:
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                      viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(url + "/login")
        page.get_by_label("手机号码").fill("+86 139-0000-1234")
        page.get_by_role("button", name="获取验证码").click()
        page.get_by_label("验证码").fill(read_code(var, "13900001234"))
        page.get_by_role("button", name="登录", exact=True).click()
        page.wait_for_url(url + "/app")  # a citizen lands in the app, logged in as the new account
        assert page.get_by_role("link", name="我的诉求").is_visible()
        assert "市民1234" in page.evaluate("fetch('/api/v1/auth/me').then(r => r.json()).then(j => JSON.stringify(j))")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        context.close()
