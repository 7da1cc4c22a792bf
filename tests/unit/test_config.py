import pytest
from pydantic import ValidationError

from jiesu.config import Settings


def test_defaults_are_sqlite_under_var(tmp_path, monkeypatch):
    monkeypatch.delenv("JIESU_DATABASE_URL", raising=False)
    s = Settings(var_dir=tmp_path)
    assert s.effective_database_url == f"sqlite:///{tmp_path / 'jiesu.db'}"
    assert s.timezone == "Asia/Shanghai" and s.language == "zh_CN"


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("JIESU_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("JIESU_TIMEZONE", "Asia/Urumqi")
    s = Settings()
    assert s.effective_database_url == "postgresql://u@h/db"
    assert str(s.tz) == "Asia/Urumqi"


def test_bad_values_fail_at_start():
    with pytest.raises(ValidationError, match="timezone"):
        Settings(timezone="Asia/Beijing")  # not a zone: Shanghai is
    with pytest.raises(ValidationError, match="language"):
        Settings(language="fr")


def test_secret_key_is_generated_once_and_kept(tmp_path):
    s = Settings(var_dir=tmp_path)
    key = s.resolved_secret_key()
    assert len(key) > 40 and Settings(var_dir=tmp_path).resolved_secret_key() == key
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
