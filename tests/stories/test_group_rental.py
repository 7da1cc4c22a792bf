"""群租: a call about a group rental in 首座御园, 大兴区观音寺街道. The street signs, whistles the police,
城管 and 住建 into a joint action (吹哨报到), each department reports for duty and reports its part, the
street replies, the callback finds it resolved: closed about 10 hours after the call. Signed 20 minutes after
the dispatch, within its hour: the street's response rate for March 2023 is 100 %."""

from __future__ import annotations

from datetime import timedelta

from jiesu.assessment import service as assessment
from jiesu.permissions import SYSTEM, Role
from tests.stories import actions, at, bj, event

STREET = "110115009000"  # 观音寺街道办事处
DISTRICT = "110115000000"  # 大兴区人民政府: gets a copy of its street's tickets
DEPARTMENTS = {"ga-110115": "police", "cgzf-110115": "chengguan", "zj-110115": "housing"}


def test_group_rental_in_shouzuo_yuyuan_closed_in_about_ten_hours(hotline, clock, settings):
    clock.set(bj("2023-03-14 08:30"))  # a Tuesday
    operator = hotline.login("op-wang", Role.operator)
    dispatcher = hotline.login("disp-li", Role.dispatcher)
    street = hotline.login("gys-zhao", Role.unit_handler, STREET)
    depts = {code: hotline.login(f"{name}-110115", Role.unit_handler, code) for code, name in DEPARTMENTS.items()}
    callback = hotline.login("cb-sun", Role.callback_agent)

    # 08:30 the operator types the call.
    out = hotline.create(operator, text="首座御园小区一套房子被隔成十几间出租，住了二十多人，楼道堆满杂物，"
                                        "存在安全隐患", title="首座御园群租房", request_type="report",
                         channel="hotline",
                         address="大兴区观音寺街道首座御园二里", area_code=STREET,
                         contact_name="刘女士", contact_phone="13800000000")
    ticket = out["ticket"]
    number = ticket["number"]
    assert number == "20230314-000001"
    assert ticket["state"] == "new" and ticket["contact"]["phone"] == "138****0000"

    # 08:45 the dispatcher sends it to the street; the district government gets a copy.
    clock.advance(timedelta(minutes=15))
    ticket = hotline.step(dispatcher, number, "dispatch", unit=STREET)
    assert ticket["main_unit_code"] == STREET and ticket["state"] == "dispatched"
    assert {(u["code"], u["role"]) for u in ticket["units"]} == {(DISTRICT, "copy")}
    assert at(ticket["sign_by"]) == bj("2023-03-14 09:45")

    # 09:05 the street signs; 09:30 it whistles the three departments into a joint action.
    clock.advance(timedelta(minutes=20))
    hotline.step(street, number, "sign")
    clock.advance(timedelta(minutes=25))
    ticket = hotline.step(street, number, "whistle", units=list(DEPARTMENTS),
                          reason="群租整治需公安、城管、住建联合执法")
    assert sorted(u["code"] for u in ticket["units"] if u["role"] == "summoned") == sorted(DEPARTMENTS)

    # Each department sees the ticket and reports for duty.
    for who in depts.values():
        clock.advance(timedelta(minutes=10))
        seen = hotline.get(who, number)
        assert seen["contact"]["phone"] == "138****0000"  # units work with the number masked
        hotline.step(who, number, "summons_sign")

    # 14:00 the joint action; the street notes it.
    clock.set(bj("2023-03-14 14:00"))
    hotline.step(street, number, "note", text="街道牵头，公安核查住户身份，城管执法拆除违规隔断，住建约谈出租方")

    # Each department reports its part; the street cannot reply before the last one has.
    reports = {"ga-110115": "已核查登记住户23人，责令限期搬离", "cgzf-110115": "已拆除违规隔断9处",
               "zj-110115": "已约谈房屋出租人，责令恢复原状"}
    for i, (code, who) in enumerate(depts.items()):
        if i == len(depts) - 1:
            refused = hotline.step(street, number, "reply", expect=409, text="已整治")
            assert refused["error"]["code"] == "transition_not_allowed"
        clock.advance(timedelta(minutes=40))
        hotline.step(who, number, "summons_report", text=reports[code])

    # 17:00 the street replies; 18:30 the callback agent calls the citizen back: resolved.
    clock.set(bj("2023-03-14 17:00"))
    hotline.step(street, number, "reply", text="经街道联合公安、城管、住建部门执法，群租房已清退，隔断已拆除")
    clock.set(bj("2023-03-14 18:30"))
    r = hotline.client.get(f"/api/v1/tickets/{number}/contact", params={"purpose": "回访"}, headers=callback)
    assert r.status_code == 200 and r.json()["phone"] == "13800000000"
    ticket = hotline.call_back(callback, number, comment="市民表示问题已解决")

    # The timeline, in order.
    assert actions(ticket) == ["create", "dispatch", "sign", "whistle", *["summons_sign"] * 3, "note",
                               *["summons_report"] * 3, "reply", "close"]
    assert [e["role"] for e in ticket["timeline"][:3]] == ["operator", "dispatcher", "unit_handler"]
    summoned = {u["code"]: u["state"] for u in ticket["units"] if u["role"] == "summoned"}
    assert summoned == dict.fromkeys(DEPARTMENTS, "reported")

    # The deadlines met, nothing overdue.
    assert ticket["state"] == "closed"
    assert at(ticket["signed_at"]) <= at(ticket["sign_by"])
    assert at(ticket["replied_at"]) <= at(ticket["reply_by"])
    assert not ticket["sign_overdue"] and not ticket["reply_overdue"] and not ticket["escalated"]
    hours = (at(ticket["closed_at"]) - at(ticket["created_at"])) / timedelta(hours=1)
    assert 9.5 <= hours <= 10.5

    # The callback: resolved, on the close event.
    close = event(ticket, "close")
    assert close["payload"]["resolved"] is True and close["payload"]["satisfied"] == "satisfied"
    assert close["actor"] == "cb-sun" and close["role"] == "callback_agent"

    # The district sees the closed ticket among its copies.
    district = hotline.login("dx-district", Role.unit_handler, DISTRICT)
    listed = hotline.client.get("/api/v1/tickets", params={"state": "closed"}, headers=district).json()
    assert [t["number"] for t in listed["items"]] == [number]

    # The street's response rate for March: the one ticket dispatched to it, signed within its sign deadline.
    ranking = assessment.ranking(hotline.session, SYSTEM, settings, clock, "2023-03", "street")
    (row,) = [r for r in ranking.rows if r.key == STREET]
    assert row.name == "观音寺街道办事处" and row.district == "大兴区"
    assert (row.counts.dispatched, row.counts.signed, row.counts.not_in_time) == (1, 1, 0)
    assert row.rates.response == 1.0  # 100 %
    assert (row.counts.valid, row.rates.contact) == (1, 1.0)  # the callback heard the street had called
