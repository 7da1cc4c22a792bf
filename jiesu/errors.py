"""Domain errors. Services raise these; only api/ and cli.py translate them for people."""

from __future__ import annotations

from jiesu.limits import MAX_OFFSET, MAX_PAGE_SIZE


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    code = "domain_error"
    status = 400  # what api/ maps it to; services never look at it

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PlaceNotFound(NotFound):
    code = "place_not_found"


class UnitNotFound(NotFound):
    code = "unit_not_found"


class UserNotFound(NotFound):
    code = "user_not_found"


class CategoryNotFound(NotFound):
    code = "category_not_found"


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class Conflict(DomainError):
    code = "conflict"
    status = 409


class AuthenticationFailed(DomainError):
    code = "authentication_failed"
    status = 401


class TooManyAttempts(AuthenticationFailed):
    code = "too_many_attempts"
    status = 429

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after  # seconds until this source may try again (the answer's Retry-After)


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403


class DataSourceError(DomainError):
    """An import file is missing or malformed; the message names the file and row."""

    code = "data_source_error"
    status = 422


def check_page(limit: int, offset: int) -> None:
    """The paging bounds every list use case shares."""
    if limit < 1 or limit > MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    if offset < 0 or offset > MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}", field="offset")


class TicketNotFound(NotFound):
    code = "ticket_not_found"


class TransitionNotAllowed(Conflict):
    """The workflow does not allow this step from the ticket's state (or a guard stops it)."""

    code = "transition_not_allowed"


class ConcurrentChange(Conflict):
    """Someone else changed the ticket between this user's read and write."""

    code = "concurrent_change"
