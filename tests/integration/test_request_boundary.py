"""Only the request boundary commits, and it commits before the response leaves: a commit that
fails is an error response, never a success the database did not keep."""

from sqlalchemy import func, select

from jiesu.api.deps import SessionDep
from jiesu.units.models import Unit, UnitKind


def test_failed_commit_is_a_409_and_nothing_is_kept(app, client, session):
    @app.post("/test-only/duplicate-unit")
    def duplicate(s: SessionDep) -> dict:
        s.add(Unit(code="brand-new", name="新单位", kind=UnitKind.department, calendar="default", active=True))
        s.add(Unit(code="12345", name="重复", kind=UnitKind.centre, calendar="default", active=True))  # exists
        return {"ok": True}  # the duplicate only surfaces when the boundary flushes and commits

    r = client.post("/test-only/duplicate-unit")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert session.scalar(select(func.count()).select_from(Unit).where(Unit.code == "brand-new")) == 0


def test_successful_request_is_committed(app, client, session):
    @app.post("/test-only/new-unit")
    def new_unit(s: SessionDep) -> dict:
        s.add(Unit(code="brand-new-2", name="新单位", kind=UnitKind.department, calendar="default", active=True))
        return {"ok": True}

    assert client.post("/test-only/new-unit").status_code == 200
    assert session.scalar(select(func.count()).select_from(Unit).where(Unit.code == "brand-new-2")) == 1
