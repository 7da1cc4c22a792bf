"""The three rates (三率) and the composite score: every formula of the assessment, in one place.

The default follows one Beijing district's practice:
    valid callbacks   = callbacks that reached the citizen, of tickets not left out
    响应率 response     = contacted / valid
    解决率 resolution   = (resolved + partly_factor x partly) / valid               (partly_factor 0)
    满意率 satisfaction = (satisfied + basically_factor x basically) / valid       (basically_factor 0.9)
    综合得分 composite  = 0.1 x response + 0.5 x resolution + 0.4 x satisfaction   (x 100, in points)
Each factor and weight is a setting (JIESU_ASSESS_*); `describe` writes the formulas as configured, for the
reports that must say how their figures were made.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiesu.config import Settings


@dataclass(frozen=True)
class Counts:
    """What the rates are made of, for one unit (or district, or category) in one period."""

    valid: int = 0
    contacted: int = 0
    resolved: int = 0
    partly: int = 0
    satisfied: int = 0
    basically: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.valid, self.contacted, self.resolved, self.partly, self.satisfied, self.basically)

    @property
    def unresolved(self) -> int:
        return self.valid - self.resolved - self.partly

    @property
    def unsatisfied(self) -> int:
        return self.valid - self.satisfied - self.basically


@dataclass(frozen=True)
class Rates:
    response: float | None  # None: no valid callback, so no rate (not 0, not 100)
    resolution: float | None
    satisfaction: float | None
    composite: float | None


@dataclass(frozen=True)
class Formula:
    weight_response: float = 0.1
    weight_resolution: float = 0.5
    weight_satisfaction: float = 0.4
    basically_factor: float = 0.9
    partly_factor: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Formula:
        return cls(settings.assess_weight_response, settings.assess_weight_resolution,
                   settings.assess_weight_satisfaction, settings.assess_basically_factor,
                   settings.assess_partly_factor)

    def rates(self, c: Counts) -> Rates:
        if c.valid <= 0:
            return Rates(None, None, None, None)
        response = c.contacted / c.valid
        resolution = (c.resolved + self.partly_factor * c.partly) / c.valid
        satisfaction = (c.satisfied + self.basically_factor * c.basically) / c.valid
        composite = 100 * (self.weight_response * response + self.weight_resolution * resolution
                           + self.weight_satisfaction * satisfaction)
        return Rates(response, resolution, satisfaction, composite)

    def describe(self, lang: str = "zh") -> list[str]:
        if lang == "en":
            return [
                "valid = callbacks that reached the citizen, without upheld returns and excluded categories",
                "response rate = contacted / valid",
                f"resolution rate = (resolved + {self.partly_factor:g} x partly resolved) / valid",
                f"satisfaction rate = (satisfied + {self.basically_factor:g} x basically satisfied) / valid",
                f"composite = 100 x ({self.weight_response:g} x response + {self.weight_resolution:g} x resolution"
                f" + {self.weight_satisfaction:g} x satisfaction)",
            ]
        return [
            "有效回访量 = 联系上市民的回访（不含退单审核通过及不纳入考核类别的工单）",
            "响应率 = 承办单位联系市民数 / 有效回访量",
            f"解决率 = (已解决 + {self.partly_factor:g} × 部分解决) / 有效回访量",
            f"满意率 = (满意 + {self.basically_factor:g} × 基本满意) / 有效回访量",
            f"综合得分 = 100 × ({self.weight_response:g} × 响应率 + {self.weight_resolution:g} × 解决率"
            f" + {self.weight_satisfaction:g} × 满意率)",
        ]
