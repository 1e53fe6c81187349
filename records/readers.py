"""Reading MARC files one record at a time: binary ISO 2709 and MARCXML (also inside OAI-PMH).

The format is told by content, not by file name: after an optional byte-order mark and white
space, "<" means XML, anything else binary MARC. Both readers stream: memory does not grow with
the file. Each record comes with its 1-based position and the byte offset where it starts, so a
bad record can be reported precisely while the rest of the file is read on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO
from xml.parsers import expat

from .ingest import FT, RT, SD, RecordError, record_from_xml

CHUNK = 1 << 16
BOM = b"\xef\xbb\xbf"
# A binary "record" with no terminator for this long is junk: stop buffering it.
MAX_UNTERMINATED = 8 * 1024 * 1024


@dataclass
class RawRecord:
    position: int
    offset: int
    data: bytes = b""
    error: str = ""  # the reader could not even cut a record out of the file
    unicode: bool = False  # the text is Unicode whatever LDR/09 says (MARCXML)
    repairs: list[str] = field(default_factory=list)  # what the reader read leniently


# Containers are refused, never opened: a zip was once read as MARC and partly imported, its
# first record lost. (magic bytes, what it is)
CONTAINERS = [
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
]
OTHER_FORMATS = [
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "a Microsoft Office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"{\\rtf", "an RTF document"),
]


def container_kind(head: bytes) -> str | None:
    """What container the first bytes of a file are (zip, gzip, tar...), or None."""
    for magic, what in CONTAINERS:
        if head.startswith(magic):
            return what
    if head[257:262] == b"ustar":
        return "a tar archive"
    return None


def not_marc_reason(head: bytes) -> str | None:
    """Why a file whose first bytes are `head` is not a MARC file (binary or XML), or None.

    A binary MARC file starts with a record length (five digits), an XML one with "<" (after
    an optional byte-order mark and white space)."""
    container = container_kind(head)
    if container:
        return (
            f"{container}: containers are not imported; unpack it and import the MARC files inside"
        )
    start = head[3:] if head.startswith(BOM) else head
    start = start.lstrip(b" \t\r\n\x00")
    if not start or start.startswith(b"<") or start[:5].isdigit():
        return None
    for magic, what in OTHER_FORMATS:
        if start.startswith(magic):
            return f"not a MARC file (looks like {what})"
    try:
        text = start[:4096].decode("utf-8")
    except UnicodeDecodeError:
        text = start[:4096].decode("latin-1")
        if sum(c.isprintable() or c in "\r\n\t" for c in text) < 0.9 * len(text):
            return "not a MARC file (looks like binary data of another kind)"
    first = text.splitlines()[0] if text.splitlines() else ""
    if first.count(",") >= 2 or first.count("\t") >= 2 or first.count(";") >= 2:
        return "not a MARC file (looks like CSV or spreadsheet text)"
    if first.startswith("=LDR") or first.startswith("LDR "):
        return "not a MARC file (looks like MARC as text, e.g. MarcEdit .mrk: compile it to .mrc)"
    return "not a MARC file (looks like plain text)"


def detect_format(head: bytes) -> str:
    """ "xml" or "marc" from the first bytes of a file."""
    if head.startswith(BOM):
        head = head[3:]
    return "xml" if head.lstrip(b" \t\r\n").startswith(b"<") else "marc"


def read_records(stream: BinaryIO) -> Iterator[RawRecord]:
    head = stream.read(CHUNK)
    if detect_format(head) == "xml":
        return iter_xml(stream, head)
    return iter_binary(stream, head)


def iter_binary(stream: BinaryIO, head: bytes = b"") -> Iterator[RawRecord]:
    buf = bytearray(head)
    start = 0  # file offset of buf[0]
    position = 0
    skipping = False  # discarding an over-long unterminated stretch up to the next terminator
    while True:
        scan = 0
        while True:
            end = buf.find(RT, scan)
            if end < 0:
                break
            piece = bytes(buf[scan : end + 1])
            offset = start + scan
            scan = end + 1
            if skipping:
                skipping = False
                continue
            stripped = piece.lstrip(b" \t\r\n\x00")
            offset += len(piece) - len(stripped)
            position += 1
            yield RawRecord(position, offset, stripped)
        del buf[:scan]
        start += scan
        if len(buf) > MAX_UNTERMINATED and not skipping:
            position += 1
            yield RawRecord(
                position,
                start,
                error=f"no record terminator within {MAX_UNTERMINATED // (1024 * 1024)} MB: "
                "not MARC, or a corrupt record",
            )
            skipping = True
        if skipping:
            start += len(buf)
            buf.clear()
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        buf += chunk
    rest = bytes(buf).strip(b" \t\r\n\x00\x1a")
    if rest and not skipping:
        position += 1
        yield RawRecord(position, start, rest)


class _XmlCollector:
    """expat handlers that cut MARC records out of any XML (collection, bare record, OAI-PMH)."""

    def __init__(self, parser):
        self.parser = parser
        self.ready: list[RawRecord] = []
        self.position = 0
        self.stack: list[dict] = []  # open <record> elements (OAI wraps MARC records in its own)
        self.text: list[str] | None = None
        self.field: list | None = None
        self.subfield_code: str | None = None
        self.problem = ""

    @staticmethod
    def local(name: str) -> str:
        return name.rsplit(" ", 1)[-1]

    def start(self, name, attrs):
        local = self.local(name)
        if local == "record":
            self.stack.append(
                {
                    "offset": self.parser.CurrentByteIndex,
                    "leader": None,
                    "fields": [],
                    "error": "",
                    "repairs": [],
                }
            )
            return
        if not self.stack:
            return
        rec = self.stack[-1]
        if local in ("leader", "controlfield"):
            self.text = []
            if local == "controlfield":
                self.field = ["control", attrs.get("tag")]
        elif local == "datafield":
            # As written, a missing one as nothing: the gate judges them as it judges the
            # binary twin's (records.gate), so both get the same decision and message.
            ind = (attrs.get("ind1") or "") + (attrs.get("ind2") or "")
            self.field = ["data", attrs.get("tag"), ind, []]
        elif local == "subfield" and self.field and self.field[0] == "data":
            self.subfield_code = attrs.get("code")
            self.text = []
        rec["seen"] = True

    def chars(self, data):
        if self.text is not None:
            self.text.append(data)

    def end(self, name):
        local = self.local(name)
        if not self.stack:
            return
        rec = self.stack[-1]
        if local == "leader":
            rec["leader"] = "".join(self.text or [])
            self.text = None
        elif local == "controlfield" and self.field:
            tag = self.field[1]
            if not tag:
                rec["error"] = rec["error"] or "a controlfield has no tag attribute"
            else:
                rec["fields"].append((tag, ("".join(self.text or [])).encode() + FT))
            self.text = self.field = None
        elif local == "subfield" and self.field:
            code = self.subfield_code
            if not code:
                rec["error"] = rec["error"] or f"a subfield of field {self.field[1]} has no code"
            elif len(code) != 1:
                rec["error"] = rec["error"] or (
                    f"a subfield of field {self.field[1]} has the code {code!r}; "
                    "MARC 21 subfield codes are one character"
                )
            else:
                self.field[3].append((code, "".join(self.text or [])))
            self.text = None
        elif local == "datafield" and self.field:
            _, tag, ind, subs = self.field
            if not tag:
                rec["error"] = rec["error"] or "a datafield has no tag attribute"
            else:
                data = ind.encode() + b"".join(SD + c.encode() + v.encode() for c, v in subs) + FT
                rec["fields"].append((tag, data))
            self.field = None
        elif local == "record":
            self.stack.pop()
            if rec["leader"] is None and not rec["fields"] and not rec["error"]:
                return  # an OAI-PMH <record> wrapper, not a MARC record
            self.position += 1
            self.ready.append(self._finish(rec))

    def _finish(self, rec) -> RawRecord:
        raw = RawRecord(self.position, rec["offset"], unicode=True, repairs=rec["repairs"])
        if rec["error"]:
            raw.error = rec["error"]
            return raw
        try:
            fields = []
            for tag, data in rec["fields"]:
                if tag.isdigit() and len(tag) < 3:
                    raw.repairs.append(f"field tag {tag!r} read as {tag.zfill(3)!r}")
                    tag = tag.zfill(3)  # "42" for "042", as some exporters write it
                if len(tag) != 3 or not tag.isascii() or not tag.isalnum():
                    raise RecordError(f"field tag {tag!r} is not three letters or digits")
                fields.append((tag.encode(), data))
            leader = rec["leader"] or ""
            if "\xa0" in leader:
                raw.repairs.append("no-break spaces in the leader read as blanks")
                leader = leader.replace("\xa0", " ")
            raw.data = record_from_xml(leader, fields)
        except RecordError as exc:
            raw.error = str(exc)
        return raw


def iter_xml(stream: BinaryIO, head: bytes = b"") -> Iterator[RawRecord]:
    parser = expat.ParserCreate(namespace_separator=" ")
    collector = _XmlCollector(parser)
    parser.StartElementHandler = collector.start
    parser.EndElementHandler = collector.end
    parser.CharacterDataHandler = collector.chars
    parser.buffer_text = True
    chunk = head
    while True:
        final = not chunk
        try:
            parser.Parse(chunk, final)
        except expat.ExpatError as exc:
            yield from collector.ready
            yield RawRecord(
                collector.position + 1,
                parser.ErrorByteIndex,
                error=f"the XML is not well-formed at line {exc.lineno}, column {exc.offset + 1}: "
                f"{expat.ErrorString(exc.code)}; the rest of the file could not be read",
            )
            return
        yield from collector.ready
        collector.ready.clear()
        if final:
            return
        chunk = stream.read(CHUNK)
