"""Pure rules of the public page: what is masked in a text anyone may read, a median, and the map's shapes."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# Personal data in a citizen's words or a unit's reply (open311.service.mask masks the first three the same way).
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[ -]?(\d{3,4})(\d{4})(?!\d)")
_SHORT_LANDLINE = re.compile(r"(?<!\d)\d{7,8}(?!\d)")  # 65123456: a number without its area code
# House numbers: 3号楼2单元501室, 12号院, 5栋, 8层, 甲3号; the digits go, the word stays (3号楼 -> *号楼).
_HOUSE = re.compile(r"[甲乙丙丁]?[0-9０-９一二三四五六七八九十百零]+"
                    r"(?=\s*(?:号楼|号院|号|栋|幢|单元|室|层|楼|户|排|门))")
_ROOM = re.compile(r"(?<![0-9*\-])\d{3,4}(?![0-9*\-年月日%])")  # 501, 1203: room numbers written bare
_LONG = re.compile(r"\d{5,}")  # any other long number (an account, a plate's digits)
# Names: 张先生, 李女士, 王师傅, 我叫刘洋, 本人赵一, 姓陈
_TITLED = re.compile(r"[\u4e00-\u9fff](?:先生|女士|小姐|师傅|大爷|大妈|阿姨|老师)")
_SELF = re.compile(r"(我叫|我是|本人|名叫|姓名[:：]?|联系人[:：]?)\s*[\u4e00-\u9fff]{2,4}")
_SURNAME = re.compile(r"(姓)[\u4e00-\u9fff]")
# A full name before an office or a form of address: 肖建军校长, 毛上辉局长, 王小明同志. The first character is one of
# the common surnames (they cover some nine in ten people), so that 学校校长 or 区局长 stay as they are.
_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
             "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
             "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
             "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
             "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
             "苑迟邝")
_NAMED_TITLE = re.compile(rf"[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}(?=(?:校长|局长|主任|经理|书记|科长|处长|所长|"
                          r"队长|院长|站长|村长|社长|会长|董事长|总经理|部长|厂长|组长|班长|警官|民警|医生|大夫|老师|同志|律师|教授|"
                          r"先生|女士|师傅|物业|代表))")


def mask(text: str | None, names: Iterable[str | None] = ()) -> str:
    """A text made fit for anyone to read: ID-card, phone and house numbers, and people's names, masked.
    `names`: the names known to be in it (the citizen's, the accounts of the staff who wrote), masked wherever
    they appear, beside the patterns."""
    if not text:
        return ""
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(name, "**")
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)
    text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    text = _LANDLINE.sub(lambda m: m.group(1) + "-" + "*" * len(m.group(2)) + m.group(3), text)
    text = _SHORT_LANDLINE.sub(lambda m: "*" * len(m.group(0)), text)
    text = _HOUSE.sub("*", text)
    text = _ROOM.sub("***", text)
    text = _LONG.sub(lambda m: "*" * len(m.group(0)), text)
    text = _NAMED_TITLE.sub("某某", text)
    text = _TITLED.sub(lambda m: "某" + m.group(0)[1:], text)
    text = _SELF.sub(lambda m: m.group(1) + "某某", text)
    return _SURNAME.sub(lambda m: m.group(1) + "某", text)


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def share(part: int, whole: int) -> float | None:
    return part / whole if whole > 0 else None


# --- the map -----------------------------------------------------------------------------------------------

def rings(geometry: dict) -> list[list[list[float]]]:
    """The outer rings of a Polygon or MultiPolygon (holes are not drawn: a district has none that matter)."""
    if geometry.get("type") == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry.get("type") == "MultiPolygon":
        return [poly[0] for poly in geometry["coordinates"]]
    return []


def _perpendicular(p, a, b) -> float:
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == 0 and dy == 0:
        return math.hypot(x - x1, y - y1)
    return abs(dy * x - dx * y + x2 * y1 - y2 * x1) / math.hypot(dx, dy)


def simplify(ring: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas-Peucker, iterative: the ring's points within `tolerance` (degrees) of the line kept dropped."""
    if len(ring) < 5:
        return ring
    keep = [False] * len(ring)
    keep[0] = keep[-1] = True
    stack = [(0, len(ring) - 1)]
    while stack:
        i, j = stack.pop()
        best, at = 0.0, -1
        for k in range(i + 1, j):
            d = _perpendicular(ring[k], ring[i], ring[j])
            if d > best:
                best, at = d, k
        if at >= 0 and best > tolerance:
            keep[at] = True
            stack += [(i, at), (at, j)]
    out = [p for p, kept in zip(ring, keep, strict=True) if kept]
    return out if len(out) >= 4 else ring


def simplified(geometry: dict, tolerance: float = 0.002, digits: int = 4) -> dict:
    """A lighter MultiPolygon of the outer rings, coordinates rounded (0.0001 degree: about 10 m)."""
    polys = [[[[round(x, digits), round(y, digits)] for x, y in simplify(r, tolerance)]] for r in rings(geometry)]
    return {"type": "MultiPolygon", "coordinates": polys}


def svg_paths(shapes: dict[str, dict], width: float = 1000.0) -> tuple[dict[str, str], float]:
    """SVG path data per key for these geometries, projected (equirectangular, x scaled by the cosine of the
    middle latitude) to fit `width`; and the height that keeps the proportions."""
    points = [p for g in shapes.values() for r in rings(g) for p in r]
    if not points:
        return {}, 0.0
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((min_y + max_y) / 2))
    scale = width / max((max_x - min_x) * k, 1e-9)
    height = (max_y - min_y) * scale
    out = {}
    for key, g in shapes.items():
        parts = []
        for r in rings(g):
            xy = [f"{(x - min_x) * k * scale:.1f},{(max_y - y) * scale:.1f}" for x, y in r]
            parts.append("M" + "L".join(xy) + "Z")
        out[key] = "".join(parts)
    return out, round(height, 1)
