"""One document, two formats: JSON as is, XML by the spec's rule (the "Spark convention").

The JSON document is the data; the XML wraps it in a root element and writes a list under key K as
`<K><singular(K)>…</singular(K)>…</K>`: services/service, attributes/attribute, values/value,
service_requests/request, errors/error, endpoints/endpoint, formats/format. Booleans are `true`/`false`, a
missing value an empty element. No namespace, no schema, UTF-8 with the XML declaration.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
CONTENT_TYPES = {JSON: "application/json; charset=utf-8", XML: "text/xml; charset=utf-8"}
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

_SINGULAR = {"service_requests": "request", "service_request_updates": "request_update", "errors": "error"}
# Characters XML 1.0 cannot carry at all, even escaped: dropped from the text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def singular(key: str) -> str:
    if key in _SINGULAR:
        return _SINGULAR[key]
    return key[:-1] if key.endswith("s") and len(key) > 1 else key


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return escape(_NOT_XML.sub("", str(value)))


def _element(key: str, value: Any, out: list[str]) -> None:
    if value is None or value == "":
        out.append(f"<{key}></{key}>")
    elif isinstance(value, dict):
        out.append(f"<{key}>")
        for k, v in value.items():
            _element(_name(k), v, out)
        out.append(f"</{key}>")
    elif isinstance(value, list | tuple):
        item = singular(key)
        out.append(f"<{key}>")
        for v in value:
            _element(item, v, out)
        out.append(f"</{key}>")
    else:
        out.append(f"<{key}>{_text(value)}</{key}>")


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _name(key: Any) -> str:
    """An element name for a key; a key that is not a valid XML name (e.g. an attribute code a client made
    up) is written safely instead of breaking the document."""
    key = str(key)
    return key if _NAME.match(key) and not key.lower().startswith("xml") else "_" + re.sub(r"[^A-Za-z0-9_.-]",
                                                                                           "_", key)


def to_xml(root: str, data: Any) -> bytes:
    """`data` as the XML document whose root is `root` (services, service_definition, service_requests,
    errors, discovery)."""
    out: list[str] = [DECLARATION]
    _element(root, data, out)
    return "".join(out).encode("utf-8")


def render(fmt: str, root: str, data: Any) -> bytes:
    return to_xml(root, data) if fmt == XML else to_json(data)


def errors(fmt: str, status: int, description: str) -> bytes:
    """The spec's error document: a list of one error with its code and description."""
    return render(fmt, "errors", [{"code": status, "description": description}])
