import pytest
from sqlalchemy import select

from jiesu.errors import InvalidInput, NotFound, TicketNotFound
from jiesu.permissions import Actor, Role
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import attachments, service
from jiesu.tickets.models import Channel
from tests.integration.test_tickets import POLICE, consistent, handling

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
OPERATOR = Actor("op", Role.operator)


@pytest.fixture
def number(session, clock, settings):
    intake = service.create_request(session, OPERATOR, clock, settings, service.NewRequest(
        text="路灯不亮", request_type=RequestType.help, channel=Channel.hotline))
    return intake.ticket.number


def test_a_photo_is_stored_once_by_its_bytes(session, clock, settings, number):
    a = attachments.add(session, OPERATOR, clock, settings, number, "现场.png", PNG)
    b = attachments.add(session, OPERATOR, clock, settings, number, "again.png", PNG)
    assert (a.content_type, a.size, a.sha256) == ("image/png", len(PNG), b.sha256)
    path = attachments.storage_path(settings, a.sha256)
    assert path.read_bytes() == PNG
    assert len(list(path.parent.iterdir())) == 1
    assert [x.filename for x in attachments.list_for(session, OPERATOR, number)] == ["现场.png", "again.png"]
    row, opened = attachments.open_one(session, OPERATOR, settings, a.id)
    assert opened == path and row.id == a.id


@pytest.mark.parametrize(("name", "data", "message"), [
    ("x.png", b"", "empty"),
    ("evil.png", b"<?php system($_GET['c']); ?>", "only JPEG"),  # the name says PNG, the bytes do not
    ("big.jpg", JPEG + b"\x00" * (1024 * 1024), "at most"),
])
def test_bad_files_are_refused_naming_the_field(session, clock, settings, number, name, data, message):
    settings.max_attachment_mb = 1
    with pytest.raises(InvalidInput) as e:
        attachments.add(session, OPERATOR, clock, settings, number, name, data)
    assert e.value.field == "file" and message in e.value.message


@pytest.mark.parametrize(("name", "data"), [
    ("../../etc/passwd.jpg", JPEG),  # a path: refused, not quietly cut to its last part
    ("..", JPEG),
    ("..\\boot.ini.jpg", JPEG),
    (".hidden.jpg", JPEG),
    ("C:photo.jpg", JPEG),
    ("x.pdf.exe", b"%PDF-1.7\n"),  # the bytes are a PDF, the name says a program
    ("polyglot.html", PNG),  # PNG bytes under a name a browser would render as a page
    ("photo.png", JPEG),  # a photo, but not the kind its name says
    ("report", b"%PDF-1.7\n"),  # no extension at all
    (".pdf", b"%PDF-1.7\n"),
])
def test_a_name_must_be_one_plain_name_whose_extension_says_what_the_bytes_are(session, clock, settings, number,
                                                                               name, data):
    with pytest.raises(InvalidInput) as e:
        attachments.add(session, OPERATOR, clock, settings, number, name, data)
    assert e.value.field == "file"
    assert attachments.list_for(session, OPERATOR, number) == []


def test_names_that_say_what_the_bytes_are_are_kept(session, clock, settings, number):
    kept = [attachments.add(session, OPERATOR, clock, settings, number, name, data).filename
            for name, data in [("现场 1.JPG", JPEG), ("a.jpeg", JPEG), ("说明.pdf", b"%PDF-1.7\n"), ("b.png", PNG)]]
    assert kept == ["现场_1.JPG", "a.jpeg", "说明.pdf", "b.png"]


def test_only_who_may_see_the_ticket_may_attach_or_read(session, clock, settings, number):
    stranger = Actor("someone", Role.citizen)
    with pytest.raises(TicketNotFound):
        attachments.add(session, stranger, clock, settings, number, "x.png", PNG)
    a = attachments.add(session, OPERATOR, clock, settings, number, "x.png", PNG)
    with pytest.raises(TicketNotFound):
        attachments.open_one(session, stranger, settings, a.id)


def test_sniff():
    assert attachments.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert attachments.sniff(b"%PDF-1.7") == "application/pdf"
    assert attachments.sniff(b"GIF89a") == "image/gif"
    assert attachments.sniff(b"hello") is None


def test_upload_and_download_over_http(session, clock, client, number):
    from jiesu.permissions import SYSTEM
    from jiesu.units import users

    users.create(session, SYSTEM, clock, username="op7", password="password-7", role=Role.operator)
    token = client.post("/api/v1/auth/login", json={"username": "op7", "password": "password-7"}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/api/v1/tickets/{number}/attachments", headers=auth, files={"file": ("现场.jpg", JPEG)})
    assert r.status_code == 201, r.text
    got = client.get(r.json()["url"], headers=auth)
    assert got.status_code == 200 and got.content == JPEG and got.headers["content-type"] == "image/jpeg"
    bad = client.post(f"/api/v1/tickets/{number}/attachments", headers=auth, files={"file": ("x.jpg", b"text")})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "file"
    assert client.get(f"/api/v1/tickets/{number}/attachments", headers=auth).json()[0]["filename"] == "现场.jpg"


# --- who may attach, and taking a file off (issue 15, defect 8) -------------------------------------------

def test_only_those_who_take_part_in_an_open_ticket_may_attach(session, clock, settings, desk, cast):
    from jiesu.errors import PermissionDenied
    from jiesu.tickets.rules import Step

    t = handling(desk, cast)  # dispatched to the street (its district is copied), signed
    desk.act(cast.handler, t, Step.whistle, units=[POLICE], reason="联合执法")
    for actor in (cast.supervisor, cast.callback, cast.district):  # read-only, and the copied district
        assert service.get(session, actor, t.number, ()) is not None  # they see it ...
        with pytest.raises(PermissionDenied):  # ... but take no part in it
            attachments.add(session, actor, clock, settings, t.number, "x.png", PNG)
    for actor in (cast.handler, cast.police, cast.dispatcher, cast.operator, cast.admin):
        attachments.add(session, actor, clock, settings, t.number, f"{actor.username}.png", PNG)
    desk.act(cast.police, t, Step.summons_sign)
    desk.act(cast.police, t, Step.summons_report, text="已到场")
    desk.act(cast.handler, t, Step.reply, text="已处理")
    t = desk.called_back(cast.callback, t)
    with pytest.raises(PermissionDenied):  # a closed ticket's record is final
        attachments.add(session, cast.handler, clock, settings, t.number, "late.png", PNG)


def test_the_uploader_or_the_handling_unit_removes_a_file_with_an_event(session, clock, settings, desk, cast):
    from jiesu.errors import PermissionDenied
    from jiesu.tickets.models import Attachment
    from jiesu.tickets.rules import Step

    t = handling(desk, cast)
    mine = attachments.add(session, cast.operator, clock, settings, t.number, "a.png", PNG)
    theirs = attachments.add(session, cast.dispatcher, clock, settings, t.number, "b.png", PNG)
    with pytest.raises(PermissionDenied):  # the operator uploaded a.png, not b.png, and is no unit
        attachments.remove(session, cast.operator, clock, t.number, theirs.id)
    with pytest.raises(PermissionDenied):  # the copied district may not
        attachments.remove(session, cast.district, clock, t.number, mine.id)
    attachments.remove(session, cast.operator, clock, t.number, mine.id)  # the uploader
    attachments.remove(session, cast.handler, clock, t.number, theirs.id)  # the handling unit
    assert session.scalars(select(Attachment).where(Attachment.ticket_id == t.id)).all() == []
    session.expire_all()
    t = service.get(session, cast.dispatcher, t.number)
    rows = consistent(session, t)  # one event each, the version moved on with them, the log replays
    removed = [(e.actor, e.reason, e.to_state) for e in rows if e.action == Step.remove_attachment.value]
    assert removed == [("operator", "a.png", t.state), ("handler", "b.png", t.state)]
    with pytest.raises(NotFound):  # gone
        attachments.remove(session, cast.handler, clock, t.number, theirs.id)
    # Room again: a ticket that held its 20 files takes a 21st once one is removed.
    for i in range(attachments.MAX_PER_TICKET):
        last = attachments.add(session, cast.handler, clock, settings, t.number, f"{i}.jpg", JPEG)
    with pytest.raises(InvalidInput):
        attachments.add(session, cast.handler, clock, settings, t.number, "more.jpg", JPEG)
    attachments.remove(session, cast.handler, clock, t.number, last.id)
    attachments.add(session, cast.handler, clock, settings, t.number, "more.jpg", JPEG)
    desk.act(cast.handler, t, Step.reply, text="已处理")
    t = desk.called_back(cast.callback, t)
    with pytest.raises(PermissionDenied):  # closed: the record stays as it is
        attachments.remove(session, cast.handler, clock, t.number, last.id - 1)


def test_files_are_served_as_downloads_never_sniffed(session, clock, client, settings, cast, desk):
    from tests.integration.test_tickets import PASSWORD

    t = handling(desk, cast)
    session.commit()

    def login(name):
        token = client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD}).json()["token"]
        return {"Authorization": f"Bearer {token}"}

    handler, district = login("handler"), login("district")
    up = client.post(f"/api/v1/tickets/{t.number}/attachments", headers=handler,
                     files={"file": ("说明.pdf", b"%PDF-1.7\n")})
    assert up.status_code == 201, up.text
    pdf = client.get(up.json()["url"], headers=handler)
    assert pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert "filename*=utf-8''%E8%AF%B4%E6%98%8E.pdf" in pdf.headers["content-disposition"]
    photo = client.post(f"/api/v1/tickets/{t.number}/attachments", headers=handler, files={"file": ("p.png", PNG)})
    shown = client.get(photo.json()["url"], headers=handler)
    assert shown.headers["content-disposition"].startswith("inline;") and shown.headers["content-type"] == "image/png"
    bad = client.post(f"/api/v1/tickets/{t.number}/attachments", headers=handler,
                      files={"file": ("polyglot.html", PNG)})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "file"
    copied = client.post(f"/api/v1/tickets/{t.number}/attachments", headers=district, files={"file": ("d.png", PNG)})
    assert copied.status_code == 403
    gone = f"/api/v1/tickets/{t.number}/attachments/{photo.json()['id']}"
    assert client.delete(gone, headers=district).status_code == 403
    assert client.delete(gone, headers=handler).status_code == 204
    assert client.delete(gone, headers=handler).status_code == 404
    assert [a["filename"] for a in client.get(f"/api/v1/tickets/{t.number}/attachments", headers=handler).json()] \
        == ["说明.pdf"]
    events = client.get(f"/api/v1/tickets/{t.number}", headers=handler).json()["timeline"]
    assert events[-1]["action"] == "remove_attachment" and events[-1]["actor"] == "handler"


def test_the_ticket_page_offers_remove_to_who_may(session, clock, client, settings, cast, desk):
    from tests import forms
    from tests.integration.test_ticket_pages import login

    t = handling(desk, cast)
    a = attachments.add(session, cast.handler, clock, settings, t.number, "现场.png", PNG)
    session.commit()
    action = f"/tickets/{t.number}/attachments/{a.id}/remove"
    login(client, "district")
    page = client.get(f"/tickets/{t.number}")
    assert "现场.png" in page.text and action not in page.text  # the copied district sees it, no button
    client.cookies.clear()
    login(client, "handler")
    page = client.get(f"/tickets/{t.number}")
    assert action in page.text
    done = forms.post(client, action, {})
    assert done.status_code == 200 and "删除附件" in done.text and "现场.png" in done.text  # the timeline says so
    assert attachments.list_for(session, cast.handler, t.number) == []
