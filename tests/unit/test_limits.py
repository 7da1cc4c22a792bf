"""A limit is its column's width: input the schemas and services accept fits where it is stored."""

from jiesu.limits import (
    MAX_ADDRESS,
    MAX_CODE,
    MAX_IDEMPOTENCY_KEY,
    MAX_NAME,
    MAX_NOTE,
    MAX_PHONE,
    MAX_TITLE,
    MAX_UNIT_CODE,
)
from jiesu.open311.models import ApiKey
from jiesu.places.models import Area
from jiesu.routing.models import RoutingRule
from jiesu.taxonomy.models import Category
from jiesu.tickets.models import Contact, Request, Ticket
from jiesu.units.models import Unit, User


def width(column) -> int:
    return column.property.columns[0].type.length


def test_limits_are_the_columns_widths():
    assert width(Request.title) == MAX_TITLE
    assert width(Request.address) == MAX_ADDRESS
    assert width(Request.idempotency_key) == MAX_IDEMPOTENCY_KEY
    assert width(Contact.name) == width(User.username) == MAX_NAME
    assert width(Contact.phone) == MAX_PHONE
    assert width(Ticket.number) == width(Area.code) == width(Category.code) == MAX_CODE
    assert width(Unit.code) == MAX_UNIT_CODE
    assert width(RoutingRule.note) == width(ApiKey.note) == MAX_NOTE
