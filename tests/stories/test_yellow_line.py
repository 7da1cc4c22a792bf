"""安四路: a yellow dashed line contradicts a one-way sign on 安四路 at 香屯村, 昌平区兴寿镇. Routed to 兴寿镇
with the district's road section as co-unit; the signs removed, 20 hedges cut back, a stop line
painted; replied and closed on day 6, inside the 7-business-day reply deadline."""

from __future__ import annotations

from datetime import timedelta

from jiesu.permissions import Role
from tests.stories import BEIJING, actions, at, bj, event

TOWN = "110114116000"  # 兴寿镇人民政府
VILLAGE = "110114116203"  # 香屯村
ROAD_SECTION = "jt-110114"  # 昌平区交通局, standing in for the district road maintenance section
DISTRICT = "110114000000"  # 昌平区人民政府


def test_yellow_line_on_ansi_road_closed_on_day_six(hotline, clock):
    # Monday 13 March 2023: no holiday in the fortnight after, so 7 business days end on Wednesday 22nd.
    clock.set(bj("2023-03-13 09:10"))
    operator = hotline.login("op-zhou", Role.operator)
    dispatcher = hotline.login("disp-wu", Role.dispatcher)
    town = hotline.login("xs-chen", Role.unit_handler, TOWN)
    road = hotline.login("cp-road", Role.unit_handler, ROAD_SECTION)
    callback = hotline.login("cb-zheng", Role.callback_agent)

    ticket = hotline.create(operator, text="安四路香屯村路段画的是黄色虚线，旁边却立着单行标志，车辆不知道该怎么走，"
                                           "绿篱也挡住了视线，很危险", title="安四路标线与单行标志矛盾",
                            request_type="complaint", channel="hotline", address="昌平区兴寿镇安四路香屯村段",
                            area_code=VILLAGE, category_code="13.05.004", contact_phone="13911112222")["ticket"]
    number = ticket["number"]
    assert number == "20230313-000001" and ticket["district_code"] == DISTRICT
    assert ticket["category_path"] == "政法/交通管理/交通安全管理"

    # 09:40 to the town, with the road section as co-unit.
    clock.set(bj("2023-03-13 09:40"))
    ticket = hotline.step(dispatcher, number, "dispatch", unit=TOWN, co_units=[ROAD_SECTION])
    assert {(u["code"], u["role"]) for u in ticket["units"]} == {(ROAD_SECTION, "co"), (DISTRICT, "copy")}
    assert at(ticket["sign_by"]) == bj("2023-03-13 10:40")
    assert at(ticket["reply_by"]) == bj("2023-03-22 09:40")
    assert hotline.get(road, number)["main_unit_code"] == TOWN  # the co-unit sees the ticket it works on

    clock.set(bj("2023-03-13 10:05"))
    hotline.step(town, number, "sign")
    notes = [("2023-03-14 15:00", "会同区公路分局现场勘察，已拆除与标线矛盾的单行标志"),
             ("2023-03-15 11:00", "已修剪遮挡视线的绿篱20棵"),
             ("2023-03-16 16:00", "已在路口施划停止线")]
    for when, text in notes:
        clock.set(bj(when))
        hotline.step(town, number, "note", text=text)

    clock.set(bj("2023-03-17 10:00"))
    hotline.step(town, number, "reply", text="单行标志已拆除，绿篱20棵已修剪，停止线已施划，道路通行恢复正常")
    clock.set(bj("2023-03-18 10:30"))  # day 6: Saturday; the callback desk works every day
    ticket = hotline.call_back(callback, number)

    assert actions(ticket) == ["create", "dispatch", "sign", "note", "note", "note", "reply", "close"]
    assert [e["reason"] for e in ticket["timeline"] if e["action"] == "note"] == [t for _, t in notes]
    assert ticket["state"] == "closed"
    created, closed = at(ticket["created_at"]), at(ticket["closed_at"])
    assert (closed.astimezone(BEIJING).date() - created.astimezone(BEIJING).date()).days == 5  # day 6
    assert closed - created < timedelta(days=6)
    assert at(ticket["signed_at"]) <= at(ticket["sign_by"])
    assert at(ticket["replied_at"]) <= at(ticket["reply_by"])
    assert not ticket["sign_overdue"] and not ticket["reply_overdue"]
    assert ticket["extensions"] == 0 and ticket["reopened"] == 0
    assert event(ticket, "close")["payload"]["resolved"] is True
