"""How long or how many: one constant per limit that more than one place checks.

The API's schemas read them (so the OpenAPI document states them), and so do the services that check the
same input from the CLI and the importer, the pages' forms and the templates' maxlength. Where a value is
stored, its limit is its column's width (title String(200), address String(256), a unit's code String(64)
...): the migrations hold those widths, so changing a width here needs a migration there.

Pure: imports nothing.
"""

from __future__ import annotations

# --- what people write -----------------------------------------------------------------------------------

MAX_TEXT = 4000  # what the citizen said; a reply, a progress note, a direct answer; a caller's words searched for
MAX_REASON = 2000  # why: a return, an extension, a rejection, a review; a callback's or the survey's comment
MAX_TITLE = 200
MAX_ADDRESS = 256  # the place as the citizen said it
MAX_NOTE = 200  # an administrator's note on a routing rule or an API key
MAX_PURPOSE = 256  # why a person read a citizen's contact unmasked (the access log)

# --- names and codes -------------------------------------------------------------------------------------

MAX_NAME = 64  # a person's name, a username; the name typed to look up a place, a unit or a category
MAX_PHONE = 32
MAX_CODE = 32  # an area's or a category's code, a district code, a ticket's number
MAX_UNIT_CODE = 64
MAX_PASSWORD = 256
MAX_IDEMPOTENCY_KEY = 128
MAX_SEARCH = 100  # words searched for in a list of tickets or of articles
MAX_TOKEN = 100  # a survey link's token

# --- lists -----------------------------------------------------------------------------------------------

MAX_PAGE_SIZE = 1000  # a list's `limit`
MAX_OFFSET = 10**9  # past any real table, and inside every database's integer
MAX_PAGE_NUMBER = 10**6  # a page's ?page= (and Open311's page) beyond this is refused or shows the last page

# --- what a request may send (jiesu/api/edge.py refuses more with 413) -----------------------------------

MAX_JSON_BYTES = 1024 * 1024  # a JSON body, a form without files, any other body: 4,000 characters are 12 kB
MAX_OPEN311_BYTES = 256 * 1024  # an Open311 POST: a description, attributes, a URL
MAX_PHOTOS = 6  # files with one note or reply on a ticket's page; the API takes one file per request
MULTIPART_SLACK = 256 * 1024  # a multipart body's boundaries, headers and text fields beside its files
MAX_DRAIN_BYTES = 64 * 1024 * 1024  # read and dropped after a refusal, so the client reads the answer, not a reset
