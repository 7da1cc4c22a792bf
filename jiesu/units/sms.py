"""Who delivers a one-time login code (jiesu/units/phone.py): a pluggable sender, chosen by the setting
JIESU_SMS_SENDER.

- "console" (the default): the code is printed on the server's console (standard error), for a demo or a
  test install: whoever runs `make demo` reads the code there.
- "package.module:Class": a class importable from the installed packages, built once per app as Class(settings)
  (the Settings object, so that it can read its own JIESU_* values), whose `send(phone, text)` hands the text to
  an SMS gateway. It may raise on failure: the citizen is told the code could not be sent (503) and may ask
  again; the code asked for is not kept.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("jiesu.sms")

CONSOLE = "console"
SPEC = re.compile(r"^(console|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$")


@runtime_checkable
class CodeSender(Protocol):
    def send(self, phone: str, text: str) -> None:
        """Deliver `text` (the code in a sentence) to the mainland mobile number `phone` (11 digits)."""


class ConsoleSender:
    """Prints each message on the server's console instead of sending it."""

    def __init__(self, settings: Any = None) -> None:
        self.settings = settings

    def send(self, phone: str, text: str) -> None:
        print(f"[jiesu sms] to {phone}: {text}", file=sys.stderr, flush=True)
        log.info("login code printed on the console for %s", phone[:3] + "****" + phone[-4:])


def load(spec: str, settings: Any) -> CodeSender:
    """The sender a JIESU_SMS_SENDER value names, built with the settings."""
    spec = (spec or CONSOLE).strip()
    if spec == CONSOLE:
        return ConsoleSender(settings)
    if not SPEC.fullmatch(spec):
        raise ValueError(f"JIESU_SMS_SENDER is 'console' or 'package.module:Class', not {spec!r}")
    module_name, _, class_name = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    sender = cls(settings)
    if not callable(getattr(sender, "send", None)):
        raise TypeError(f"{spec} has no send(phone, text) method")
    return sender


def sender_of(state: Any, settings: Any) -> CodeSender:
    """The app's sender (`state`: the FastAPI app's state), built at its first use and kept on the app."""
    sender = getattr(state, "code_sender", None)
    if sender is None:
        sender = load(settings.sms_sender, settings)
        state.code_sender = sender
    return sender
