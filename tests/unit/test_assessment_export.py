"""A ranking as JSON, CSV and Excel: the same rows and figures in each; Chinese headers; rates as percentages;
the response rate beside the dispatches it is made of, the contact rate beside the callbacks' rates; "—" (never
0) for a rate without its denominator (no counted dispatch, no valid callback); the workbook laid out as a
report (title, period, formulas, frozen header, filter, landscape page fitted to width).
Pure: the ranking is built by hand."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from jiesu.assessment import export, rules
from jiesu.assessment.formulas import Counts, Formula
from jiesu.assessment.service import ALL_MEASURES, Ranking, Row

TZ = ZoneInfo("Asia/Shanghai")
F = Formula()


def row(key, name, group, district, counts: Counts, *, rank=None, rank_in_district=None, previous=None,
        bottom=False, unreachable=0, upheld=0, excluded=0, sign_upheld=0) -> Row:
    return Row(key, name, group, district, counts, F.rates(counts), unreachable, upheld, excluded,
               sign_upheld=sign_upheld, rank=rank, rank_in_district=rank_in_district, previous=previous,
               bottom=bottom)


def ranking(level: str = "street", period: str = "2023-03", start_day: int = 1) -> Ranking:
    # Counts: valid, contacted, resolved, partly, satisfied, basically; signed, late, missed, pending.
    rows = [
        row("110115009000", "观音寺街道", "街道", "大兴区", Counts(20, 20, 19, 1, 18, 2, 18, 1, 1, 2), rank=1,
            rank_in_district=1, previous=90.0, unreachable=2),
        row("110115001000", "兴丰街道", "街道", "大兴区", Counts(12, 10, 6, 2, 5, 3, 12), rank=2, rank_in_district=2,
            bottom=True, upheld=1, sign_upheld=1),
        # callbacks, but no dispatch counted in the month: no response rate
        row("110114116000", "兴寿镇", "乡镇", "昌平区", Counts(11, 11, 11, 0, 11, 0), rank=1, rank_in_district=1,
            excluded=3),
        # one dispatch, its deadline ahead: nothing counted yet
        row("110114117000", "小汤山镇", "乡镇", "昌平区", Counts(0, 0, 0, 0, 0, 0, pending=1), unreachable=4),
    ]
    if level != "street":
        for r in rows:
            r.district = r.rank_in_district = None
            r.group = "区" if level == "district" else "市级部门"
    total = sum((r.counts for r in rows), Counts()) + Counts(5, 5, 5, 0, 5, 0, 4, 0, 1)
    start, end = rules.window(period, TZ, start_day)
    return Ranking(period, level, start, end, F, 10, rows, total, F.rates(total), 9, 1, 3, ["0105"], "facts",
                   F.describe(), sign_upheld=2)


def test_the_dict_has_the_window_in_local_time_and_every_figure():
    d = export.to_dict(ranking())
    assert d["period"] == "2023-03" and d["level"] == "street"
    assert d["title"] == "2023年3月 街乡镇接诉即办考核排名"
    assert d["window"] == {"start": "2023-03-01T00:00:00+08:00", "end": "2023-04-01T00:00:00+08:00",
                           "first_day": "2023-03-01", "last_day": "2023-03-31", "timezone": "Asia/Shanghai"}
    assert d["formulas"] == F.describe() and d["min_sample"] == 10
    assert d["excluded"] == {"unreachable": 9, "upheld_returns": 1, "excluded_category": 3, "excluded_codes": ["0105"]}
    assert d["formula"] == {"weight_response": 0.1, "weight_contact": 0.0, "weight_resolution": 0.5,
                            "weight_satisfaction": 0.4, "basically_factor": 0.9, "partly_factor": 0.0}
    assert d["measures"] == list(ALL_MEASURES) and "not_in_time" in d["measures"]
    first = d["rows"][0]
    # 18 of 20 counted dispatches signed in time (1 late, 1 missed; the 2 pending not counted)
    assert (first["dispatched"], first["signed"], first["late"], first["missed"], first["not_in_time"],
            first["pending"], first["sign_upheld"]) == (20, 18, 1, 1, 2, 2, 0)
    assert first["response"] == 18 / 20 and first["contact"] == 20 / 20
    assert first["resolution"] == 19 / 20 and first["satisfaction"] == (18 + 0.9 * 2) / 20
    assert first["composite"] == pytest.approx(100 * (0.1 * 0.9 + 0.5 * 0.95 + 0.4 * 0.99))
    assert first["change"] == pytest.approx(first["composite"] - 90.0)
    second = d["rows"][1]
    assert second["response"] == 1.0 and second["contact"] == 10 / 12 and second["sign_upheld"] == 1
    no_dispatch = d["rows"][2]
    assert no_dispatch["dispatched"] == 0 and no_dispatch["response"] is None and no_dispatch["contact"] == 1.0
    # the composite of the other rates, their weights scaled to the same sum: 100 x (0.5 + 0.4) / 0.9
    assert no_dispatch["composite"] == pytest.approx(100.0)
    empty = d["rows"][-1]
    assert empty["valid"] == 0 and empty["pending"] == 1 and empty["dispatched"] == 0
    assert empty["response"] is None and empty["contact"] is None and empty["composite"] is None
    assert empty["rank"] is None and empty["ranked"] is False and empty["change"] is None
    table, everyone = d["totals"]["table"], d["totals"]["all"]
    assert table["valid"] == 43 and everyone["valid"] == 48
    assert (table["dispatched"], table["signed"], table["pending"], table["sign_upheld"]) == (32, 30, 3, 1)
    assert table["response"] == 30 / 32 and table["contact"] == 41 / 43
    assert (everyone["dispatched"], everyone["signed"], everyone["missed"], everyone["sign_upheld"]) == (37, 34, 2, 2)
    assert everyone["response"] == 34 / 37
    json.dumps(d)  # plain JSON


def test_a_19th_to_18th_month_says_so():
    d = export.to_dict(ranking(start_day=19))
    assert (d["window"]["first_day"], d["window"]["last_day"]) == ("2023-02-19", "2023-03-18")
    assert export.period_line(ranking(start_day=19)) == "考核周期：2023年2月19日至2023年3月18日（Asia/Shanghai 时间）"


def test_csv_has_a_bom_chinese_headers_percentages_and_dashes(tmp_path):
    path = tmp_path / "r.csv"
    export.write_csv(ranking(), path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["排名", "区内排名", "单位", "代码", "所属区", "类别", "计入派单量", "按时签收", "超时签收",
                       "逾期未签收", "暂不计入（未到签收时限或退单待审）", "退单审核通过（不计入派单）", "响应率",
                       "有效回访量", "联系率", "解决率", "满意率", "综合得分", "上月得分", "环比", "未联系上",
                       "退单审核通过", "不纳入考核", "末位"]
    assert rows[1][:17] == ["1", "1", "观音寺街道", "110115009000", "大兴区", "街道", "20", "18", "1", "1", "2", "0",
                            "90.0%", "20", "100.0%", "95.0%", "99.0%"]
    assert rows[1][18:20] == ["90.00", f"{export.row_dict(ranking().rows[0])['change']:+.2f}"]
    assert rows[2][11:15] == ["1", "100.0%", "12", "83.3%"] and rows[2][-1] == "末位" and rows[1][-1] == ""
    no_dispatch = rows[3]
    assert no_dispatch[6] == "0" and no_dispatch[12] == "—" and no_dispatch[14] == "100.0%"  # no dispatch: not 0%
    assert no_dispatch[17] == "100.00"
    empty = rows[4]
    assert empty[0] == "—" and empty[10] == "1" and empty[12] == "—" and empty[14:20] == ["—"] * 6
    assert empty[20] == "4"
    assert len(rows) == 5


def test_other_levels_have_no_district_columns():
    rows = list(csv.reader(io.StringIO(export.to_csv(ranking("district")))))
    assert "所属区" not in rows[0] and "区内排名" not in rows[0] and rows[0][0] == "排名"
    assert export.title(ranking("district")) == "2023年3月 各区接诉即办考核排名"
    assert export.title(ranking("department")) == "2023年3月 市级部门及公共服务企业接诉即办考核排名"


def test_the_workbook_is_a_report(tmp_path):
    path = tmp_path / "r.xlsx"
    export.write_xlsx(ranking(), path, generated_at=datetime(2023, 4, 3, 1, 30, tzinfo=UTC))
    wb = load_workbook(path)
    assert wb.sheetnames == ["考核排名", "回访计数"]
    ws = wb["考核排名"]
    assert ws["A1"].value == "2023年3月 街乡镇接诉即办考核排名" and ws["A1"].font.bold
    assert ws["A2"].value.startswith("考核周期：2023年3月1日至2023年3月31日") and "2023-04-03 09:30" in ws["A2"].value
    texts = [ws.cell(r, 1).value for r in range(1, ws.max_row + 1)]
    assert "考核公式" in texts
    for line in F.describe():
        assert line in texts
    header = texts.index("排名") + 1
    headers = [ws.cell(header, c).value for c in range(1, ws.max_column + 1)]
    assert headers == [c.header for c in export.COLUMNS]
    assert ws.freeze_panes == f"A{header + 1}"
    assert ws.auto_filter.ref == f"A{header}:X{header + 4}"
    col = {h: i + 1 for i, h in enumerate(headers)}

    def at(r: int, name: str):
        return ws.cell(header + r, col[name])

    assert at(1, "单位").value == "观音寺街道" and at(1, "排名").value == 1
    assert at(1, "响应率").value == 0.9 and at(1, "响应率").number_format == "0.0%"
    assert (at(1, "计入派单量").value, at(1, "按时签收").value, at(1, "逾期未签收").value) == (20, 18, 1)
    assert at(1, "联系率").value == 1.0 and at(2, "联系率").value == pytest.approx(10 / 12)
    assert at(3, "响应率").value == "—" and at(3, "联系率").value == 1.0  # no counted dispatch: no rate, not 0
    assert at(1, "解决率").value == pytest.approx(0.95) and at(1, "满意率").number_format == "0.0%"
    assert at(1, "综合得分").number_format == "0.00" and at(1, "上月得分").value == 90.0
    assert at(1, "环比").number_format.startswith("+0.00")
    assert at(2, "末位").value == "末位" and at(2, "单位").fill.fgColor.rgb.endswith("FCE4E4")
    assert at(1, "单位").fill.fill_type is None
    for name in ("排名", "区内排名", "响应率", "联系率", "解决率", "满意率", "综合得分", "上月得分", "环比"):
        assert at(4, name).value == "—", name  # no valid callback, no counted dispatch: no rate, not 0
    assert at(4, "有效回访量").value == 0 and at(4, "未联系上").value == 4
    assert at(4, "暂不计入（未到签收时限或退单待审）").value == 1
    assert at(5, "单位").value == "本表合计" and at(5, "有效回访量").value == 43
    assert at(5, "计入派单量").value == 32 and at(5, "退单审核通过（不计入派单）").value == 1
    assert at(5, "响应率").value == pytest.approx(30 / 32) and at(5, "排名").value is None
    assert at(5, "联系率").value == pytest.approx(41 / 43)
    assert at(6, "单位").value.startswith("全市合计") and at(6, "有效回访量").value == 48
    assert at(6, "未联系上").value == 9 and at(6, "计入派单量").value == 37 and at(6, "响应率").value == 34 / 37
    assert at(6, "退单审核通过（不计入派单）").value == 2
    assert ws.page_setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0
    assert ws.print_title_rows == f"${header}:${header}"
    assert ws.column_dimensions["C"].width >= 20
    counts = wb["回访计数"]
    assert [c.value for c in counts[2]][:11] == ["单位", "代码", "类别", "计入派单量", "按时签收", "超时签收",
                                                 "逾期未签收", "暂不计入（未到签收时限或退单待审）",
                                                 "退单审核通过（不计入派单）", "有效回访量", "联系市民"]
    assert [c.value for c in counts[3]][3:17] == [20, 18, 1, 1, 2, 0, 20, 20, 19, 1, 0, 18, 2, 0]


def test_an_empty_ranking_still_makes_a_workbook(tmp_path):
    r = ranking()
    r.rows = []
    wb = load_workbook(io.BytesIO(export.to_xlsx(r)))
    assert wb["考核排名"]["A1"].value.startswith("2023年3月")
    assert export.to_csv(r).count("\r\n") == 1
