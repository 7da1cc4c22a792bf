"""What the public page's data files say: names of the measures the map can shade by."""

from __future__ import annotations

# measure -> (label, how a value is written: count, pct, hours, points)
MEASURES: dict[str, tuple[str, str]] = {
    "received": ("受理量", "count"),
    "in_time": ("按时答复率", "pct"),
    "median": ("答复用时中位数", "hours"),
    "response": ("响应率", "pct"),
    "resolution": ("解决率", "pct"),
    "satisfaction": ("满意率", "pct"),
    "composite": ("综合得分", "points"),
}
