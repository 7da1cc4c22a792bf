"""The public page of how the city answers (/public): figures by hand on a small fixture equal the page's; a closed
month is read from its rollup; a place below the minimum sample shows —; no personal data in any public answer;
bad codes 404, a bad month 422; cacheable answers without cookies."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from jiesu.places.models import Area
from jiesu.public import rules
from jiesu.public import service as public
from jiesu.tickets.models import Ticket
from jiesu.tickets.rules import Step
from tests.integration.test_tickets import OTHER_STREET, STREET

MONTH = "2024-09"  # the clock fixture stands at 30 September 2024, 10:00 in Beijing
CITIZEN, PHONE, ID_CARD = "欧阳明珠", "13912345678", "110101199003071234"


def _reply(desk, cast, hours: float, *, area: str = STREET, text: str = "楼下餐馆油烟扰民", reply: str = "已处理",
           late: bool = False) -> Ticket:
    t = desk.new(cast.operator, area_code=area, text=text, contact_name=CITIZEN, contact_phone=PHONE)
    desk.act(cast.dispatcher, t, Step.dispatch, unit=area)
    handler = cast.handler if area == STREET else cast.other_handler
    desk.act(handler, t, Step.sign)
    if late:  # its reply deadline set to before the reply, by hand
        desk.session.execute(update(Ticket).where(Ticket.id == t.id)
                             .values(reply_by=t.created_at + timedelta(minutes=30)))
    desk.clock.advance(timedelta(hours=hours))
    t = desk.act(handler, t, Step.reply, text=reply)
    desk.clock.advance(timedelta(hours=-hours))
    return t


@pytest.fixture
def city(desk, cast, clock):
    """Four requests in September in 大兴区: three replied (2 h, 5 h late, 1 h), one not."""
    _reply(desk, cast, 2, text=f"我叫{CITIZEN}，电话{PHONE}，住3号楼2单元501室，身份证{ID_CARD}，油烟扰民",
           reply=f"已联系{CITIZEN}（{PHONE}），到兴华路12号院现场核实")
    _reply(desk, cast, 5, late=True)
    desk.new(cast.operator)
    _reply(desk, cast, 1, area=OTHER_STREET)
    desk.session.flush()
    clock.advance(timedelta(days=5))  # 5 October: September has closed
    district = desk.session.scalar(select(Area.district_code).where(Area.code == STREET))
    return {"district": district}


def cells(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, re.S)]


def month_row(html: str, month: str) -> list[str]:
    cs = cells(html)
    i = cs.index(month)
    return cs[i:i + 8]


def test_figures_by_hand_equal_the_page(client, city):
    r = client.get("/public")
    assert r.status_code == 200, r.text
    # received 4; in time 2 of 4 (one late, one not replied); median of 2 h, 5 h, 1 h = 2 h
    assert month_row(r.text, MONTH)[:4] == [MONTH, "4", "50.0%", "2.0"]
    r = client.get(f"/public/{city['district']}")
    assert month_row(r.text, MONTH)[:4] == [MONTH, "4", "50.0%", "2.0"]
    r = client.get(f"/public/{city['district']}/{STREET}")
    assert r.status_code == 200
    assert month_row(r.text, MONTH)[:4] == [MONTH, "3", "33.3%", "3.5"]  # 2 h and 5 h: the median is 3.5
    r = client.get(f"/public/{city['district']}/{OTHER_STREET}")
    assert month_row(r.text, MONTH)[:4] == [MONTH, "1", "100.0%", "1.0"]


def test_a_closed_month_is_read_from_its_rollup(client, session, city):
    assert client.get("/public").status_code == 200  # built on demand
    assert public.missing(session, [MONTH]) == []
    session.execute(update(Ticket).values(replied_at=None))  # the live table changes after the rollup ...
    session.flush()
    assert month_row(client.get("/public").text, MONTH)[:4] == [MONTH, "4", "50.0%", "2.0"]  # ... the page does not


def test_below_the_minimum_sample_the_rates_show_a_dash(client, settings, city):
    settings.assess_min_sample = 100
    row = month_row(client.get(f"/public/{city['district']}").text, MONTH)
    assert row[4:] == ["—", "—", "—", "—"]
    street = month_row(client.get(f"/public/{city['district']}/{STREET}").text, MONTH)
    assert street[4:] == ["—", "—", "—", "—"]


def test_no_personal_data_in_any_public_answer(client, session, settings, clock, cast, city):
    public.refresh_replies(session, settings, clock)
    session.flush()
    answers = [client.get(p) for p in ("/public", f"/public/{city['district']}", f"/public/{city['district']}/{STREET}",
                                       "/public/districts.geojson")]
    assert all(a.status_code == 200 for a in answers)
    assert "油烟扰民" in answers[0].text and "已联系" in answers[0].text  # the latest replies are shown ...
    for a in answers:  # ... masked
        for secret in (CITIZEN, PHONE, ID_CARD, "501室", "3号楼", "2单元", "12号院", cast.handler.username,
                       cast.operator.username, cast.dispatcher.username):
            assert secret not in a.text, (a.url, secret)
        assert "set-cookie" not in a.headers
        assert a.headers["cache-control"].startswith("public, max-age=")
        assert a.headers["etag"]


def test_the_etag_answers_304(client, city):
    first = client.get("/public")
    again = client.get("/public", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_the_map_is_drawn_from_the_shipped_districts(client, city):
    geo = client.get("/public/districts.geojson").json()
    assert len(geo["features"]) == 16
    page = client.get("/public").text
    assert page.count("<path ") == 16 and f'href="/public/{city["district"]}"' in page


@pytest.mark.parametrize("path", ["/public/999999", "/public/110101/110115009000", "/public/110115/nope"])
def test_bad_codes_are_404_pages(client, city, path):
    r = client.get(path)
    assert r.status_code == 404 and "<html" in r.text


@pytest.mark.parametrize("month", ["2024-13", "soon", "2024-10", "2099-01"])
def test_bad_or_running_month_is_a_422_page(client, city, month):
    r = client.get("/public", params={"month": month})
    assert r.status_code == 422 and "month" in r.text


def test_mask_rule():
    text = rules.mask("我叫王小明，电话 138-1234-5678，家住5栋1203，王先生说 010-65123456", names=["王小明"])
    assert "王小明" not in text and "5678" in text and "1234-" not in text and "1203" not in text
    assert "王先生" not in text and "65123456" not in text
    assert rules.median([3, 1, 2]) == 2 and rules.median([1, 2, 3, 4]) == 2.5 and rules.median([]) is None


def test_the_rates_are_the_assessments(client, desk, cast, clock, settings):
    from jiesu.assessment import service as assessment
    from jiesu.callback import service as callback
    from jiesu.callback.models import Resolution as R
    from jiesu.callback.models import Satisfaction as Sat
    from jiesu.permissions import SYSTEM
    from tests.integration.test_tickets import replied

    settings.assess_min_sample = 1
    answers = [(R.resolved, Sat.satisfied), (R.partly, Sat.basically), (R.unresolved, Sat.unsatisfied)]
    for resolution, satisfaction in answers:
        t = replied(desk, cast)
        callback.record(desk.session, cast.callback, clock, settings, t.number,
                        callback.Answer(contacted=True, resolution=resolution, satisfaction=satisfaction))
    desk.session.flush()
    clock.advance(timedelta(days=5))
    district = desk.session.scalar(select(Area.district_code).where(Area.code == STREET))
    ranked = {level: {r.key: r for r in assessment.ranking(desk.session, SYSTEM, settings, clock, MONTH, level).rows}
              for level in ("district", "street")}

    def shown(rates) -> list[str]:
        return [f"{100 * rates.response:.1f}%", f"{100 * rates.resolution:.1f}%", f"{100 * rates.satisfaction:.1f}%",
                f"{rates.composite:.2f}"]

    assert month_row(client.get("/public").text, MONTH)[4:] == shown(ranked["district"][district].rates)
    street_page = client.get(f"/public/{district}/{STREET}").text
    assert month_row(street_page, MONTH)[4:] == shown(ranked["street"][STREET].rates)
    assert month_row(street_page, MONTH)[5] == "33.3%"  # resolved 1 of 3 (partly counts 0)


def test_the_clock_keeps_the_closed_month_once_the_assessment_has(session, settings, clock, city):
    from jiesu.assessment import service as assessment

    assert public.keep_last_period(session, settings, clock) == 0  # the assessment has not kept September yet
    clock.advance(timedelta(days=settings.assess_settle_days))
    assessment.keep_last_period(session, settings, clock)
    assert public.keep_last_period(session, settings, clock) == 1
    assert public.missing(session, [MONTH]) == []
    assert public.keep_last_period(session, settings, clock) == 0  # once


def test_the_rollup_command(engine, session, settings, clock, tmp_path, monkeypatch, city):
    from contextlib import contextmanager

    from typer.testing import CliRunner

    from jiesu import cli
    from jiesu import shell as support
    from jiesu.public import cli as public_cli
    from tests.settings_env import jiesu_env

    @contextmanager
    def the_tests_session(_sessions):
        yield session
        session.flush()

    monkeypatch.setattr(support, "unit_of_work", the_tests_session)
    monkeypatch.setattr(public_cli, "clock", lambda: clock)
    env = {"JIESU_DATABASE_URL": engine.url.render_as_string(hide_password=False), "JIESU_VAR_DIR": str(tmp_path)}
    with jiesu_env(env):
        done = CliRunner().invoke(cli.app, ["public", "rollup", "--month", MONTH])
        assert done.exit_code == 0 and f"1 month(s) kept: {MONTH}" in done.output, done.output
        assert public.missing(session, [MONTH]) == []
        refused = CliRunner().invoke(cli.app, ["public", "rollup", "--month", "2024-10"])  # still running
        assert refused.exit_code == 1 and "Traceback" not in refused.output
        every = CliRunner().invoke(cli.app, ["public", "rollup", "--all"])
        assert every.exit_code == 0 and f"1 month(s) kept: {MONTH}" in every.output, every.output


def test_in_english(client, city):
    r = client.get("/public", params={"lang": "en"})
    assert r.status_code == 200
    assert "How the city answers" in r.text and "Replied in time" in r.text and "Response rate" in r.text
    assert r.headers["cache-control"].startswith("private")  # the language cookie: not for a shared cache
