"""The one settings object. Every value can be set by a JIESU_* environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JIESU_", env_file=".env", extra="ignore")

    var_dir: Path = Field(default=Path("var"), description="Where the SQLite file, uploads and models live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under var_dir.")
    timezone: str = Field(default="Asia/Shanghai", description="Zone in which times are shown and days counted.")
    secret_key: str = Field(default="", description="Signs login cookies; generated into var_dir when empty.")
    language: str = Field(default="zh_CN", description="Default UI language (zh_CN or en).")
    # Office hours for "working hours" deadline maths, local time, as HH:MM-HH:MM ranges.
    work_periods: str = "09:00-12:00,13:30-18:00"
    token_ttl_days: int = Field(default=30, ge=1, le=3650)
    token_cache_seconds: float = Field(default=10, ge=0, le=300, description="a token checked this recently is "
                                       "not looked up again in the same process; revoking it takes effect at once "
                                       "in this process and within these seconds in the others (0: always look)")
    max_attachment_mb: float = Field(default=10, gt=0, le=100, description="largest photo or document accepted")
    threads: int = Field(default=40, ge=2, le=1000, description="request handlers run at once per web process "
                         "(fewer spend less CPU on switching between them under load; SQLite wants many)")
    # The callback and the assessment (三率). The formulas that use these live in jiesu/assessment/formulas.py.
    callback_attempts: int = Field(default=3, ge=1, le=10, description="attempts to reach a citizen before the "
                                   "round ends as 未联系上 (unreachable)")
    assess_month_start_day: int = Field(default=1, ge=1, le=28, description="the assessment month of M runs from "
                                        "this day of M-1 to the day before it in M (19: 19 Feb - 18 Mar); 1: the "
                                        "calendar month")
    assess_weight_response: float = Field(default=0.1, ge=0, le=1, description="the response rate's weight: "
                                          "dispatches signed within the sign deadline")
    assess_weight_contact: float = Field(default=0.0, ge=0, le=1, description="the contact rate's weight (联系率: "
                                         "the unit contacted the citizen, as the callback heard)")
    assess_weight_resolution: float = Field(default=0.5, ge=0, le=1)
    assess_weight_satisfaction: float = Field(default=0.4, ge=0, le=1)
    assess_basically_factor: float = Field(default=0.9, ge=0, le=1, description="what 基本满意 counts for "
                                           "in the satisfaction rate")
    assess_partly_factor: float = Field(default=0.0, ge=0, le=1, description="what 部分解决 counts for in "
                                        "the resolution rate")
    assess_excluded_categories: str = Field(default="", description="category codes (comma-separated) left out "
                                            "of the rates, with everything below them")
    assess_settle_days: int = Field(default=3, ge=0, le=31, description="days after a month ends before the clock "
                                    "keeps its figures: signs, returns upheld, of the month's last dispatches")
    assess_min_sample: int = Field(default=10, ge=1, description="valid callbacks a unit needs to be ranked")
    assess_bottom: int = Field(default=3, ge=0, le=100, description="how many at the bottom of each ranking "
                               "are named")
    suggest_at_intake: bool = Field(default=False, description="make smart dispatch's suggestion inside the "
                                    "intake request (slower intake) instead of in the worker right after it; a "
                                    "request may ask either way with ?suggest=now|later")
    suggest_interval: float = Field(default=1.0, gt=0, le=3600, description="seconds between the smart-dispatch "
                                    "worker's looks for tickets waiting for their suggestion")
    cookie_secure: bool = Field(default=False, description="send the login cookie over HTTPS only (set it when "
                                "Jiesu is served behind HTTPS)")
    public_base_url: str = Field(default="", max_length=200, description="the address citizens reach Jiesu at, "
                                 "e.g. https://12345.example.gov.cn (links sent to them, such as the survey "
                                 "link, are built from it); empty: from the request's own address (its Host "
                                 "header), which is right only when no proxy or client can change that header")
    sms_sender: str = Field(default="console", max_length=200, description="who delivers the one-time codes of "
                            "the citizens' phone login: 'console' prints them on the server's console (demo, "
                            "tests); 'package.module:Class' names a class built as Class(settings) whose "
                            "send(phone, text) hands the text to an SMS gateway (jiesu/units/sms.py)")
    host: str = "127.0.0.1"
    port: int = 8000

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        # A typo must fail at start, not at the first deadline; ZoneInfo's own error is a KeyError.
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. Asia/Shanghai)") from None
        return v

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, v: str) -> str:
        if v and v.split(":", 1)[0].split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("Jiesu runs on SQLite (sqlite:///path) or PostgreSQL (postgresql://user@host/db)")
        return "postgresql" + v[len("postgres"):] if v.startswith("postgres:") else v

    @field_validator("public_base_url")
    @classmethod
    def _absolute_url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        v = v.strip().rstrip("/")
        if not v:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("public_base_url is an absolute http(s) address such as https://12345.example.gov.cn")
        return v

    @field_validator("sms_sender")
    @classmethod
    def _sender_spec(cls, v: str) -> str:
        import re

        v = v.strip() or "console"
        if not re.fullmatch(r"console|[A-Za-z_][\w.]*:[A-Za-z_]\w*", v):  # as jiesu/units/sms.py SPEC
            raise ValueError("sms_sender is 'console' or 'package.module:Class' (a class importable here)")
        return v

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        if v not in ("zh_CN", "en"):
            raise ValueError("language must be zh_CN or en")
        return v

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'jiesu.db').resolve()}"

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret.key"
        if not path.exists():
            import secrets

            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
