"""The phone login's pure rules (jiesu/units/phone.py, jiesu/units/sms.py): which numbers are numbers, how they
are written down, what a code and its message look like, and how the sender is chosen."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jiesu.config import Settings
from jiesu.errors import InvalidInput
from jiesu.units import phone, sms


@pytest.mark.parametrize("typed", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678",
                                   "+8613812345678", "0086 13812345678", "86-138-1234-5678", " (138)12345678 "])
def test_numbers_are_normalised(typed):
    assert phone.normalise(typed) == "13812345678"


@pytest.mark.parametrize("typed", ["", "12812345678", "1381234567", "138123456789", "010-12345678", "abc",
                                   "+1 138 1234 5678", "1381234567８", "13812345678; drop"])
def test_anything_else_is_refused_naming_the_phone(typed):
    with pytest.raises(InvalidInput) as refused:
        phone.normalise(typed)
    assert refused.value.field == "phone"


def test_masked_and_default_names_show_only_the_last_four():
    assert phone.mask("13812345678") == "138****5678"
    assert phone.display_name("13812345678") == "市民5678"


def test_codes_are_six_digits_and_their_message_says_so():
    codes = {phone.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes) and len(codes) > 150
    assert "123456" in phone.message("123456") and "5" in phone.message("123456")


def test_the_digest_is_salted_and_keyed_by_the_number():
    a = phone._digest("salt-a", "13812345678", "123456")
    assert a != phone._digest("salt-b", "13812345678", "123456")
    assert a != phone._digest("salt-a", "13912345678", "123456")
    assert "123456" not in a


class Gateway:
    def __init__(self, settings) -> None:
        self.settings = settings

    def send(self, phone: str, text: str) -> None:  # noqa: ARG002
        pass


def test_the_console_sender_prints_the_message(capsys):
    sender = sms.load("console", None)
    assert isinstance(sender, sms.ConsoleSender) and isinstance(sender, sms.CodeSender)
    sender.send("13812345678", phone.message("654321"))
    assert "654321" in capsys.readouterr().err


def test_a_gateway_is_named_by_module_and_class_and_built_with_the_settings():
    settings = Settings(sms_sender=f"{__name__}:Gateway")
    sender = sms.load(settings.sms_sender, settings)
    assert isinstance(sender, Gateway) and sender.settings is settings


@pytest.mark.parametrize("spec", ["smtp", "module.Class", "a:b:c", "mod:1x", "; rm -rf /"])
def test_a_sender_setting_that_names_no_class_is_refused_at_start(spec):
    with pytest.raises(ValidationError):
        Settings(sms_sender=spec)
    with pytest.raises(ValueError):
        sms.load(spec, None)
