"""A ranking as the reports carry it: a dict (the JSON of the API and of `jiesu assess rates --json`), CSV and
an Excel workbook laid out as a government report. Pure: no database; the ranking comes from service.ranking.

Every output holds the same rows with the same figures. Rates are fractions (0.933) in JSON and Excel (shown
as 93.3%), the composite and its month-on-month change are points; a rate without its denominator (the
response rate without a counted dispatch, the others without a valid callback) is None in JSON and "—" in CSV
and Excel, never 0 nor 100%.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jiesu import glossary
from jiesu.assessment import rules
from jiesu.assessment.formulas import Counts, Rates
from jiesu.assessment.service import ALL_MEASURES, LEVEL_LABELS, Ranking, Row

DASH = "—"
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
TITLE_LEVELS = LEVEL_LABELS | {"district": "各区"}  # 2023年3月 各区接诉即办考核排名
RATE, MEASURE = glossary.labels("rate"), glossary.labels("measure")
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    width: float
    kind: str  # text | int | rate | score | change


COLUMNS = (
    Column("rank", "排名", 7, "int"),
    Column("rank_in_district", "区内排名", 9, "int"),
    Column("name", "单位", 26, "text"),
    Column("key", "代码", 14, "text"),
    Column("district", "所属区", 11, "text"),
    Column("group", "类别", 12, "text"),
    # 响应率 beside the dispatches it is made of; then the callbacks' rates beside theirs
    Column("dispatched", MEASURE["dispatched"], 10, "int"),
    Column("signed", MEASURE["signed"], 9, "int"),
    Column("late", MEASURE["late"], 9, "int"),
    Column("missed", MEASURE["missed"], 10, "int"),
    Column("pending", MEASURE["pending"], 11, "int"),
    Column("sign_upheld", MEASURE["sign_upheld"], 14, "int"),
    Column("response", RATE["response"], 9, "rate"),
    Column("valid", "有效回访量", 11, "int"),
    Column("contact", RATE["contact"], 9, "rate"),
    Column("resolution", RATE["resolution"], 9, "rate"),
    Column("satisfaction", RATE["satisfaction"], 9, "rate"),
    Column("composite", RATE["composite"], 10, "score"),
    Column("previous", "上月得分", 10, "score"),
    Column("change", "环比", 8, "change"),
    Column("unreachable", MEASURE["unreachable"], 9, "int"),
    Column("upheld_returns", MEASURE["upheld_return"], 13, "int"),
    Column("excluded_category", "不纳入考核", 11, "int"),
    Column("bottom", "末位", 7, "text"),
)
STREET_ONLY = {"rank_in_district", "district"}  # the other levels have no district to rank within


def columns(level: str) -> list[Column]:
    return [c for c in COLUMNS if level == "street" or c.key not in STREET_ONLY]


# --- the figures, once ----------------------------------------------------------------------------------

def _counts(c: Counts, sign_upheld: int) -> dict:
    """The counts behind the rates: the dispatches (response) and the callbacks (the others)."""
    return {"dispatched": c.dispatched, "signed": c.signed, "late": c.late, "missed": c.missed,
            "not_in_time": c.not_in_time, "pending": c.pending, "sign_upheld": sign_upheld,
            "valid": c.valid, "contacted": c.contacted, "resolved": c.resolved, "partly": c.partly,
            "unresolved": c.unresolved, "satisfied": c.satisfied, "basically": c.basically,
            "unsatisfied": c.unsatisfied}


def _rates(r: Rates) -> dict:
    return {"response": r.response, "contact": r.contact, "resolution": r.resolution,
            "satisfaction": r.satisfaction, "composite": r.composite}


def row_dict(row: Row) -> dict:
    return {"rank": row.rank, "rank_in_district": row.rank_in_district, "key": row.key, "name": row.name,
            "group": row.group, "district": row.district, "ranked": row.rank is not None, "bottom": row.bottom,
            **_counts(row.counts, row.sign_upheld), **_rates(row.rates), "previous": row.previous, "change": row.change,
            "unreachable": row.unreachable, "upheld_returns": row.upheld_returns,
            "excluded_category": row.excluded_category}


def table_total(ranking: Ranking) -> tuple[Counts, Rates]:
    """The rows of the table summed (本表合计); ranking.total is every unit's (全市合计)."""
    counts = sum((r.counts for r in ranking.rows), Counts())
    return counts, ranking.formula.rates(counts)


def totals(ranking: Ranking) -> dict[str, dict]:
    """本表合计 (table) and 全市合计 (all): counts and rates, as the rows carry them."""
    counts, rates = table_total(ranking)
    return {"table": {**_counts(counts, sum(r.sign_upheld for r in ranking.rows)), **_rates(rates)},
            "all": {**_counts(ranking.total, ranking.sign_upheld), **_rates(ranking.total_rates)}}


def window_local(ranking: Ranking, tz: ZoneInfo = DEFAULT_TZ) -> dict:
    start, end = ranking.start.astimezone(tz), ranking.end.astimezone(tz)
    return {"start": start.isoformat(), "end": end.isoformat(), "first_day": start.date().isoformat(),
            "last_day": (end - timedelta(days=1)).date().isoformat(), "timezone": str(tz.key)}


def to_dict(ranking: Ranking, tz: ZoneInfo = DEFAULT_TZ) -> dict:
    """The ranking as JSON: what the API answers and `jiesu assess rates --json` prints."""
    f = ranking.formula
    return {
        "period": ranking.period,
        "level": ranking.level,
        "level_label": LEVEL_LABELS[ranking.level],
        "title": title(ranking),
        "window": window_local(ranking, tz),
        "source": ranking.source,
        "formulas": list(ranking.formulas or ranking.formula.describe()),
        "formula": {"weight_response": f.weight_response, "weight_contact": f.weight_contact,
                    "weight_resolution": f.weight_resolution, "weight_satisfaction": f.weight_satisfaction,
                    "basically_factor": f.basically_factor, "partly_factor": f.partly_factor},
        "min_sample": ranking.min_sample,
        "totals": totals(ranking),
        "excluded": {"unreachable": ranking.unreachable, "upheld_returns": ranking.upheld_returns,
                     "excluded_category": ranking.excluded_category, "excluded_codes": list(ranking.excluded_codes)},
        "measures": list(ALL_MEASURES),
        "rows": [row_dict(r) for r in ranking.rows],
    }


# --- text: CSV and the terminal -------------------------------------------------------------------------

def title(ranking: Ranking) -> str:
    y, m = rules.parse_period(ranking.period)
    return f"{y}年{m}月 {TITLE_LEVELS[ranking.level]}接诉即办考核排名"


def period_line(ranking: Ranking, tz: ZoneInfo = DEFAULT_TZ) -> str:
    w = window_local(ranking, tz)

    def day(iso: str) -> str:
        y, m, d = (int(p) for p in iso.split("-"))
        return f"{y}年{m}月{d}日"

    return f"考核周期：{day(w['first_day'])}至{day(w['last_day'])}（{w['timezone']} 时间）"


def notes(ranking: Ranking) -> list[str]:
    """What the table's reader needs to know beside the formulas."""
    out = [f"有效回访量少于 {ranking.min_sample} 件的单位列出、不排名（排名栏为“{DASH}”）；"
           f"无计入派单的响应率、无有效回访的其余各率为“{DASH}”，不计为 0。",
           f"全市暂不计入（未到签收时限或退单待审）{ranking.total.pending} 件、退单审核通过（不计入派单）"
           f"{ranking.sign_upheld} 件，不计入派单量。",
           "环比 = 本月综合得分 − 上月综合得分（分）；“末位”为本类别排名最后、予以点名的单位。",
           f"全市未联系上 {ranking.unreachable} 件、退单审核通过 {ranking.upheld_returns} 件，不计入有效回访量；"
           f"不纳入考核类别 {ranking.excluded_category} 件"
           + (f"（类别代码 {', '.join(ranking.excluded_codes)}）。" if ranking.excluded_codes else "。"),
           "数据来源：" + ("已结转的月度汇总" if ranking.source == "rollup" else "实时数据（回访与签收记录）") + "。"]
    return out


def pct(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def score(value: float | None) -> str:
    return DASH if value is None else f"{value:.2f}"


def signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+.2f}"


def cell_text(column: Column, values: dict) -> str:
    v = values.get(column.key)
    if column.key == "bottom":
        return "末位" if v else ""
    if column.kind == "rate":
        return pct(v)
    if column.kind == "score":
        return score(v)
    if column.kind == "change":
        return signed(v)
    if v is None:
        return DASH if column.kind == "int" else ""
    return str(v)


def to_csv(ranking: Ranking) -> str:
    """UTF-8 text with a BOM (so that Excel reads the Chinese right) when written with `write_csv`."""
    cols = columns(ranking.level)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in cols])
    for r in ranking.rows:
        values = row_dict(r)
        writer.writerow([cell_text(c, values) for c in cols])
    return buf.getvalue()


def write_csv(ranking: Ranking, path: Path) -> None:
    path.write_bytes(to_csv(ranking).encode("utf-8-sig"))


# --- Excel ----------------------------------------------------------------------------------------------

def to_workbook(ranking: Ranking, tz: ZoneInfo = DEFAULT_TZ, generated_at: datetime | None = None):
    """An openpyxl Workbook: sheet 考核排名 (title, period, formulas, the ranked table, totals), and sheet
    回访计数 with the counts each rate is made of (the dispatches, then the callbacks)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    cols = columns(ranking.level)
    n = len(cols)
    last = get_column_letter(n)
    thin = Side(style="thin", color="808080")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    header_fill = PatternFill("solid", fgColor="D9E1F2")
    bottom_fill = PatternFill("solid", fgColor="FCE4E4")
    total_fill = PatternFill("solid", fgColor="F2F2F2")
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)

    wb = Workbook()
    ws = wb.active
    ws.title = "考核排名"
    wb.properties.title = title(ranking)
    wb.properties.creator = "Jiesu 接诉即办"

    ws["A1"] = title(ranking)
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.row_dimensions[1].height = 30
    line = period_line(ranking, tz)
    if generated_at is not None:
        line += f"　制表时间：{generated_at.astimezone(tz):%Y-%m-%d %H:%M}"
    ws["A2"] = line
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].alignment = Alignment(horizontal="center")
    ws["A4"] = "考核公式"
    ws["A4"].font = Font(bold=True)
    row = 4
    for text in [*(ranking.formulas or ranking.formula.describe()), *notes(ranking)]:
        row += 1
        ws.cell(row, 1, text)
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=n)

    header_row = row + 2  # a blank row between the formulas and the table
    for i, c in enumerate(cols, start=1):
        cell = ws.cell(header_row, i, c.header)
        cell.font, cell.fill, cell.alignment, cell.border = Font(bold=True), header_fill, center, border
    ws.row_dimensions[header_row].height = 32

    def put(row: int, values: dict, *, fill=None, bold: bool = False) -> None:
        for i, c in enumerate(cols, start=1):
            v = values.get(c.key)
            cell = ws.cell(row, i)
            if c.key not in values:  # a totals row: no rank, no last month
                cell.value = None
            elif c.key == "bottom":
                cell.value = "末位" if v else None
            elif v is None:
                cell.value = DASH if c.kind != "text" else None
            else:
                cell.value = v
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                cell.number_format = {"rate": "0.0%", "score": "0.00", "change": "+0.00;-0.00;0.00"}.get(c.kind,
                                                                                                       "0")
            cell.border = border
            cell.alignment = Alignment(horizontal="left" if c.kind == "text" and c.key != "bottom" else "center",
                                       vertical="center")
            if fill is not None:
                cell.fill = fill
            if bold or (c.key == "bottom" and v):
                cell.font = Font(bold=True, color="C00000" if c.key == "bottom" else None)

    row = header_row
    for r in ranking.rows:
        row += 1
        put(row, row_dict(r), fill=bottom_fill if r.bottom else None)
    last_data = row
    counts, rates = table_total(ranking)
    for label, c, rt in (("本表合计", counts, rates), ("全市合计（全部承办单位）", ranking.total, ranking.total_rates)):
        row += 1
        totals = {"name": label, **_counts(c, ranking.sign_upheld if c is ranking.total
                                             else sum(x.sign_upheld for x in ranking.rows)), **_rates(rt)}
        if c is ranking.total:
            totals |= {"unreachable": ranking.unreachable, "upheld_returns": ranking.upheld_returns,
                       "excluded_category": ranking.excluded_category}
        else:
            totals |= {k: sum(getattr(x, k) for x in ranking.rows)
                       for k in ("unreachable", "upheld_returns", "excluded_category")}
        put(row, totals, fill=total_fill, bold=True)

    for i, c in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    ws.freeze_panes = ws.cell(header_row + 1, 1)
    ws.auto_filter.ref = f"A{header_row}:{last}{max(last_data, header_row + 1)}"
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.print_area = f"A1:{last}{row}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddHeader.center.text = title(ranking)

    _counts_sheet(wb, ranking, border, header_fill, center)
    return wb


def _counts_sheet(wb, ranking: Ranking, border, header_fill, center) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    ws = wb.create_sheet("回访计数")
    headers = [("name", "单位", 26), ("key", "代码", 14), ("group", "类别", 12),
               *((k, MEASURE[k], 10) for k in ("dispatched", "signed", "late", "missed", "pending", "sign_upheld")),
               ("valid", "有效回访量", 11),
               ("contacted", "联系市民", 10), ("resolved", MEASURE["resolved"], 9),
               ("partly", MEASURE["partly"], 10), ("unresolved", MEASURE["unresolved"], 9),
               ("satisfied", MEASURE["satisfied"], 8), ("basically", MEASURE["basically"], 10),
               ("unsatisfied", MEASURE["unsatisfied"], 9), ("unreachable", MEASURE["unreachable"], 10),
               ("upheld_returns", MEASURE["upheld_return"], 13), ("excluded_category", "不纳入考核", 11)]
    ws.append([f"{title(ranking)}：回访计数"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    ws["A1"].font = Font(size=14, bold=True)
    ws.append([h for _, h, _ in headers])
    for i in range(1, len(headers) + 1):
        cell = ws.cell(2, i)
        cell.font, cell.fill, cell.alignment, cell.border = Font(bold=True), header_fill, center, border
    for r in ranking.rows:
        values = row_dict(r)
        ws.append([values[k] for k, _, _ in headers])
        for i in range(1, len(headers) + 1):
            ws.cell(ws.max_row, i).border = border
    for i, (_, _, width) in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)


def to_xlsx(ranking: Ranking, tz: ZoneInfo = DEFAULT_TZ, generated_at: datetime | None = None) -> bytes:
    buf = io.BytesIO()
    to_workbook(ranking, tz, generated_at).save(buf)
    return buf.getvalue()


def write_xlsx(ranking: Ranking, path: Path, tz: ZoneInfo = DEFAULT_TZ, generated_at: datetime | None = None) -> None:
    path.write_bytes(to_xlsx(ranking, tz, generated_at))


def xlsx_filename(ranking: Ranking) -> str:
    return f"assessment-{ranking.level}-{ranking.period}.xlsx"
