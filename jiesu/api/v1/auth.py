from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from jiesu.api.deps import SESSION_TOKEN_KEY, ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import error_body, responses
from jiesu.errors import AuthenticationFailed
from jiesu.units import users
from jiesu.units.schemas import LoginIn, TokenOut, UserOut

router = APIRouter(prefix="/auth", tags=["auth"])
ERRORS = responses(401, notes={401: "wrong username or password, or no valid token"})
ERRORS[401]["content"] = {"application/json": {"example": error_body("authentication_failed", "...")}}


@router.post("/login", response_model=TokenOut, responses={**ERRORS, **responses(422, 429)})
def login(request: Request, body: LoginIn, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> TokenOut:
    """Exchange a username and password for a bearer token (sent as `Authorization: Bearer <token>`).

    Five logins in a row without a success, for one username from one address, make that address wait 15
    minutes for that username (429), whether the username has an account or not; other addresses are not
    held up."""
    try:
        user = users.authenticate(session, clock, body.username, body.password,
                                  source=users.source_of(request.client))
    except AuthenticationFailed:
        session.commit()  # the failed attempt counts towards the lockout even though we answer 401
        raise
    token, row = users.issue_token(session, clock, user, name="login",
                                   ttl=timedelta(days=settings.token_ttl_days))
    return TokenOut(token=token, expires_at=row.expires_at, user=UserOut.of(user))


@router.post("/logout", status_code=204, responses=ERRORS)
def logout(request: Request, actor: UserDep, session: SessionDep, clock: ClockDep) -> None:
    """Revoke the bearer token this request carries (or end the page login)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        users.revoke_token(session, actor, clock, header[7:].strip())
    if "session" in request.scope and (cookie_token := request.session.pop(SESSION_TOKEN_KEY, None)):
        users.revoke_token(session, actor, clock, cookie_token)


@router.get("/me", response_model=UserOut, responses=ERRORS)
def me(actor: UserDep, session: SessionDep) -> UserOut:
    return UserOut.of(users.get(session, actor, actor.username))
