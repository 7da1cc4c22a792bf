"""车太多了: an app post at 8 a.m. from 广外南里社区 (东城区东花市街道). Dispatched straight to the community
committee, whose worker gets the property company to clear the fire lane; resolved 1.5 hours after the post."""

from __future__ import annotations

from datetime import timedelta

from jiesu.permissions import Role
from tests.stories import actions, at, bj, event

COMMUNITY = "110101013006"  # 广渠门外南里社区居委会
DISTRICT = "110101000000"  # 东城区人民政府


def test_fire_lane_cleared_in_an_hour_and_a_half(hotline, clock):
    clock.set(bj("2023-06-08 08:00"))  # a Thursday
    resident = hotline.login("resident-gwnl", Role.citizen)
    dispatcher = hotline.login("disp-ma", Role.dispatcher)
    worker = hotline.login("gwnl-worker", Role.community_worker, COMMUNITY)
    callback = hotline.login("cb-he", Role.callback_agent)

    ticket = hotline.create(resident, text="车太多了，小区消防通道被私家车堵死了", request_type="complaint",
                            channel="app", address="广外南里小区消防通道", area_code=COMMUNITY,
                            contact_name="赵先生", contact_phone="13612345678")["ticket"]
    number = ticket["number"]
    assert ticket["channel"] == "app" and ticket["state"] == "new"

    clock.set(bj("2023-06-08 08:10"))
    ticket = hotline.step(dispatcher, number, "dispatch", unit=COMMUNITY)
    assert ticket["main_unit_code"] == COMMUNITY
    assert {(u["code"], u["role"]) for u in ticket["units"]} == {(DISTRICT, "copy")}

    clock.set(bj("2023-06-08 08:20"))
    hotline.step(worker, number, "sign")
    clock.set(bj("2023-06-08 09:00"))
    hotline.step(worker, number, "note", text="联系物业公司，车主已挪车，消防通道已清理，物业加装禁停标识")
    clock.set(bj("2023-06-08 09:10"))
    hotline.step(worker, number, "reply", text="社区已协调物业清理消防通道，今后加强巡查")

    # The resident sees the answer in the app before the callback.
    mine = hotline.client.get("/api/v1/tickets", headers=resident).json()
    assert [(t["number"], t["state"]) for t in mine["items"]] == [(number, "replied")]

    clock.set(bj("2023-06-08 09:30"))
    ticket = hotline.call_back(callback, number)

    assert actions(ticket) == ["create", "dispatch", "sign", "note", "reply", "close"]
    assert [e["role"] for e in ticket["timeline"]] == ["citizen", "dispatcher", "community_worker",
                                                       "community_worker", "community_worker", "callback_agent"]
    assert at(ticket["closed_at"]) - at(ticket["created_at"]) == timedelta(hours=1, minutes=30)
    assert at(ticket["signed_at"]) <= at(ticket["sign_by"]) == bj("2023-06-08 09:10")
    assert at(ticket["replied_at"]) <= at(ticket["reply_by"])
    assert not ticket["sign_overdue"] and not ticket["reply_overdue"]
    assert event(ticket, "close")["payload"]["resolved"] is True
    assert hotline.get(resident, number)["state"] == "closed"
