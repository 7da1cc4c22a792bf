import pytest

from jiesu.errors import InvalidInput, TicketNotFound
from jiesu.permissions import Actor, Role
from jiesu.taxonomy.models import RequestType
from jiesu.tickets import attachments, service
from jiesu.tickets.models import Channel

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


def test_path_parts_in_a_name_are_dropped(session, clock, settings, number):
    a = attachments.add(session, OPERATOR, clock, settings, number, "../../etc/passwd.jpg", JPEG)
    assert a.filename == "passwd.jpg"


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
