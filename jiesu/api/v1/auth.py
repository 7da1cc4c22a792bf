from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request

from jiesu.api.deps import SESSION_TOKEN_KEY, ClockDep, SessionDep, SettingsDep, UserDep
from jiesu.api.errors import error_body, responses
from jiesu.errors import AuthenticationFailed
from jiesu.units import phone as phones
from jiesu.units import sms, users
from jiesu.units.schemas import LoginIn, PhoneCodeIn, PhoneCodeSent, PhoneLoginIn, TokenOut, UserOut

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


PHONE_CODE_ERRORS = {**responses(422, 429, notes={429: "a new code at most once a minute per number, and a few an "
                                                        "hour per number and per address: Retry-After says when"}),
                     503: {**responses(422)[422], "description": "the code could not be sent: ask again in a minute"}}


@router.post("/phone/code", status_code=202, response_model=PhoneCodeSent,
             responses=PHONE_CODE_ERRORS)
def phone_code(request: Request, body: PhoneCodeIn, session: SessionDep, clock: ClockDep,
               settings: SettingsDep) -> PhoneCodeSent:
    """Send a one-time login code to a citizen's mobile number (by the server's configured sender,
    JIESU_SMS_SENDER). The answer is the same whether the number has an account or not."""
    sender = sms.sender_of(request.app.state, settings)
    try:
        number = phones.request_code(session, clock, sender, body.phone, source=users.source_of(request.client))
    except (AuthenticationFailed, phones.CodeNotSent):
        session.commit()  # the sends counted stay counted
        raise
    return PhoneCodeSent(phone=number, expires_in=int(phones.CODE_TTL.total_seconds()),
                         resend_in=int(phones.RESEND_INTERVAL.total_seconds()))


@router.post("/phone/login", response_model=TokenOut,
             responses={**responses(401, 422, notes={401: "wrong, expired or used-up code, or the number is a "
                                                          "staff account's (they log in with a password)"})})
def phone_login(body: PhoneLoginIn, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> TokenOut:
    """Exchange a mobile number and the code sent to it for a bearer token, as /auth/login does; the first time,
    this registers a citizen account for the number. Five wrong codes use the code up: ask for a new one."""
    try:
        user = phones.login(session, clock, body.phone, body.code)
    except AuthenticationFailed:
        session.commit()  # the wrong code counts against the code sent
        raise
    token, row = users.issue_token(session, clock, user, name="phone-login",
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
