"""The three rates (三率) and the composite score: every formula of the assessment, in one place.

The response rate is the brief's: the share of the tickets dispatched to a unit that it signed for at once.
Resolution and satisfaction come from the callback, as one Beijing district assesses them; that district's
"the unit contacted the citizen" stays beside them as the contact rate (联系率), weighted 0 unless set.
    counted dispatches = dispatches to the unit in the month, signed or past their sign deadline, without
                         upheld returns (a re-dispatched ticket counts for the unit that holds it)
    valid callbacks    = callbacks that reached the citizen, of tickets not left out
    响应率 response     = signed within the sign deadline / counted dispatches
    联系率 contact      = contacted / valid
    解决率 resolution   = (resolved + partly_factor x partly) / valid               (partly_factor 0)
    满意率 satisfaction = (satisfied + basically_factor x basically) / valid       (basically_factor 0.9)
    综合得分 composite  = 0.1 x response + 0 x contact + 0.5 x resolution + 0.4 x satisfaction   (x 100, points)
A unit with no counted dispatch has no response rate (not 0, not 100); its composite is then made of the other
rates, their weights scaled up to the same sum. Each factor and weight is a setting (JIESU_ASSESS_*);
`describe` writes the formulas as configured, for the reports that must say how their figures were made.
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
    # Dispatches (rules.sign_kind): signed in time, signed late, not signed past the deadline, not counted yet
    # (the deadline ahead, or returned in time and the return not ruled on).
    signed: int = 0
    late: int = 0
    missed: int = 0
    pending: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.valid, self.contacted, self.resolved, self.partly, self.satisfied, self.basically,
                self.signed, self.late, self.missed, self.pending)

    @property
    def dispatched(self) -> int:
        """The response rate's denominator: dispatches signed, or past their deadline."""
        return self.signed + self.late + self.missed

    @property
    def not_in_time(self) -> int:
        return self.late + self.missed

    @property
    def unresolved(self) -> int:
        return self.valid - self.resolved - self.partly

    @property
    def unsatisfied(self) -> int:
        return self.valid - self.satisfied - self.basically


@dataclass(frozen=True)
class Rates:
    response: float | None  # None: no counted dispatch, so no rate (not 0, not 100)
    resolution: float | None  # None: no valid callback
    satisfaction: float | None
    composite: float | None  # None: no valid callback
    contact: float | None = None  # None: no valid callback


@dataclass(frozen=True)
class Formula:
    weight_response: float = 0.1
    weight_resolution: float = 0.5
    weight_satisfaction: float = 0.4
    basically_factor: float = 0.9
    partly_factor: float = 0.0
    weight_contact: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Formula:
        return cls(settings.assess_weight_response, settings.assess_weight_resolution,
                   settings.assess_weight_satisfaction, settings.assess_basically_factor,
                   settings.assess_partly_factor, settings.assess_weight_contact)

    def rates(self, c: Counts) -> Rates:
        response = c.signed / c.dispatched if c.dispatched > 0 else None
        if c.valid <= 0:
            return Rates(response, None, None, None)
        contact = c.contacted / c.valid
        resolution = (c.resolved + self.partly_factor * c.partly) / c.valid
        satisfaction = (c.satisfied + self.basically_factor * c.basically) / c.valid
        parts = ((self.weight_response, response), (self.weight_contact, contact),
                 (self.weight_resolution, resolution), (self.weight_satisfaction, satisfaction))
        weights = sum(w for w, _ in parts)
        known = sum(w for w, v in parts if v is not None)
        scored = sum(w * v for w, v in parts if v is not None)
        composite = 100 * scored * (weights / known) if known > 0 else 0.0
        return Rates(response, resolution, satisfaction, composite, contact)

    def describe(self, lang: str = "zh") -> list[str]:
        if lang == "en":
            return [
                "counted dispatches = dispatches to the unit in the month, signed or past their sign deadline, "
                "without upheld returns and excluded categories",
                "valid = callbacks that reached the citizen, without upheld returns and excluded categories",
                "response rate = signed within the sign deadline / counted dispatches",
                "contact rate = contacted / valid",
                f"resolution rate = (resolved + {self.partly_factor:g} x partly resolved) / valid",
                f"satisfaction rate = (satisfied + {self.basically_factor:g} x basically satisfied) / valid",
                f"composite = 100 x ({self.weight_response:g} x response + {self.weight_contact:g} x contact"
                f" + {self.weight_resolution:g} x resolution + {self.weight_satisfaction:g} x satisfaction)",
                "no counted dispatch: no response rate; the composite is the other rates', weights scaled up",
            ]
        return [
            "计入派单量 = 当月派至该单位、已签收或已过签收时限的派单（不含退单审核通过及不纳入考核类别的工单）",
            "有效回访量 = 联系上市民的回访（不含退单审核通过及不纳入考核类别的工单）",
            "响应率 = 签收时限内签收数 / 计入派单量",
            "联系率 = 承办单位联系市民数 / 有效回访量",
            f"解决率 = (已解决 + {self.partly_factor:g} × 部分解决) / 有效回访量",
            f"满意率 = (满意 + {self.basically_factor:g} × 基本满意) / 有效回访量",
            f"综合得分 = 100 × ({self.weight_response:g} × 响应率 + {self.weight_contact:g} × 联系率"
            f" + {self.weight_resolution:g} × 解决率 + {self.weight_satisfaction:g} × 满意率)",
            "无计入派单的单位无响应率，综合得分由其余各率按权重同比放大计算",
        ]
