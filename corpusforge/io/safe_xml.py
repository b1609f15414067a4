"""XML parsing that refuses entity declarations and external entities (the defusedxml approach, stdlib only).

Published XML (JATS, PubMed) starts with a DOCTYPE naming an external DTD, so a DTD cannot simply be forbidden;
what is refused is what makes XML dangerous: an `<!ENTITY ...>` declaration (the "billion laughs" expansion bomb,
and external entities that read local files or URLs) and any reference to an external entity. expat never
fetches the external DTD itself.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.parsers import expat


class UnsafeXML(ValueError):
    """The document declares entities or references an external one."""


def _refuse_entity_decl(name, is_parameter_entity, value, base, system_id, public_id, notation_name):  # noqa: ARG001
    raise UnsafeXML(f"entity declaration <!ENTITY {name} ...> refused (entity expansion / external entities)")


def _refuse_external(context, base, system_id, public_id):  # noqa: ARG001
    raise UnsafeXML(f"external entity {system_id or public_id!r} refused")


def _qualified(name: str) -> str:
    """expat's `uri}local` (namespace_separator "}") as ElementTree's `{uri}local`."""
    return "{" + name if "}" in name else name


def parse_bytes(data: bytes) -> ET.Element:
    """The root element of a document, built by ElementTree's TreeBuilder from an expat parser that refuses entity
    declarations and external entities. Raises ET.ParseError (not well-formed, with `position`) or UnsafeXML."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _qualified(tag), {_qualified(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda tag: builder.end(_qualified(tag))
    parser.CharacterDataHandler = builder.data
    parser.EntityDeclHandler = _refuse_entity_decl
    parser.UnparsedEntityDeclHandler = lambda name, base, system_id, public_id, notation: _refuse_entity_decl(
        name, False, None, base, system_id, public_id, notation
    )
    parser.ExternalEntityRefHandler = _refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        error = ET.ParseError(f"{expat.ErrorString(e.code)}: line {e.lineno}, column {e.offset}")
        error.code, error.position = e.code, (e.lineno, e.offset)
        raise error from None
    return builder.close()


def local_name(tag: str) -> str:
    """`{namespace}name` -> `name` (JATS is namespace-free, but publishers' copies sometimes are not)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""
