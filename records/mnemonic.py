"""A bib's MARC as editable text, in the line format MarcEdit made familiar to cataloguers.

    =LDR  00000nam\\a2200000\\i\\4500
    =001  991000000000106
    =008  200101s2020\\\\nyu\\\\\\\\\\\\000\\0\\eng\\d
    =245  10$aThe title /$cby an author.

- one field per line: "=", the tag, two spaces, then the data;
- a blank in the leader, a control field or an indicator is written "\\";
- a data field is its two indicators followed by its subfields, each "$" and a one-character code;
- "$", "\\" and "{" inside the data are written {dollar}, {bsol} and {lcub}.

`to_text` writes a stored record this way and `from_text` reads it back into a pymarc record,
with every problem reported by line number (`MnemonicError.problems`); reading what `to_text`
wrote gives back the same record, byte for byte.
"""

from __future__ import annotations

import re

import pymarc

from .marc import parse

CONTROL_TAGS = frozenset(f"00{n}" for n in range(1, 10))
MAX_FIELD_BYTES = 9_999
_LINE = re.compile(r"=(LDR|[0-9A-Za-z]{3})  (.*)\Z")
_ESCAPE = {"$": "{dollar}", "\\": "{bsol}", "{": "{lcub}"}
_ESCAPED = re.compile(r"[$\\{]")
_UNESCAPE = {"dollar": "$", "bsol": "\\", "lcub": "{"}
_MNEMONIC = re.compile(r"\{(dollar|bsol|lcub)\}")
# What a line may not hold: MARC's own delimiters and other control characters.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Indicators likewise: MARC 21 uses digits, lower-case letters and blank; real records carry
# other visible characters, kept as they are. Never "$", which starts the subfields.
_INDICATOR = re.compile(r"[ !-#%-~]|[^\x00-\x7f]")
# MARC 21 codes are lower-case letters and digits, but real records carry others (e.g. $K in
# an 880): any visible character is kept as it is.
_CODE = re.compile(r"[!-~]|[^\x00-\x7f]")


class MnemonicError(ValueError):
    """The text is not a record; `problems` lists each one as "line N: what is wrong"."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def _escape(value: str) -> str:
    return _ESCAPED.sub(lambda m: _ESCAPE[m.group()], value)


def _unescape(value: str) -> str:
    return _MNEMONIC.sub(lambda m: _UNESCAPE[m.group(1)], value)


def _blanks(value: str) -> str:
    return _escape(value).replace(" ", "\\")


def to_text(data: bytes) -> str:
    """The stored record (UTF-8 ISO 2709) as editable lines."""
    record = parse(data)
    lines = [f"=LDR  {_blanks(str(record.leader))}"]
    for field in record.fields:
        if field.is_control_field():
            lines.append(f"={field.tag}  {_blanks(field.data or '')}")
            continue
        indicators = "".join(i if i != " " else "\\" for i in field.indicators)
        subfields = "".join(f"${s.code}{_escape(s.value)}" for s in field.subfields)
        lines.append(f"={field.tag}  {indicators}{subfields}")
    return "\n".join(lines) + "\n"


def from_text(text: str) -> pymarc.Record:
    """A pymarc record from edited lines; MnemonicError naming every bad line otherwise."""
    problems: list[str] = []
    leader = None
    fields: list[pymarc.Field] = []
    for number, line in enumerate(text.splitlines(), start=1):
        # Trailing spaces are data (MARC keeps them), so a line is taken as it is.
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(
                f"line {number}: a field starts with “=”, its three-character tag and two "
                f"spaces, e.g. “=245  10$aTitle” (got “{_shown(line)}”)"
            )
            continue
        tag, body = match.group(1), match.group(2)
        if _CONTROL.search(body):
            problems.append(f"line {number}: {tag} holds a tab or another control character")
            continue
        if tag == "LDR":
            value = _unescape(body.replace("\\", " "))
            if leader is not None:
                problems.append(f"line {number}: a second leader")
            elif len(value) != 24:
                problems.append(f"line {number}: the leader is 24 characters, not {len(value)}")
            else:
                leader = value
        elif tag in CONTROL_TAGS:
            fields.append(pymarc.Field(tag=tag, data=_unescape(body.replace("\\", " "))))
        elif tag.startswith("00"):
            problems.append(f"line {number}: {tag} is not a MARC 21 control field (001–009)")
        else:
            field = _data_field(number, tag, body, problems)
            if field is not None:
                fields.append(field)
    if leader is None:
        problems.append("the record needs its leader: a line “=LDR  …” of 24 characters")
    for field in fields:
        size = len(field.as_marc("utf-8"))
        if size > MAX_FIELD_BYTES:
            problems.append(
                f"field {field.tag} is {size:,} bytes; ISO 2709 allows at most {MAX_FIELD_BYTES:,}"
            )
    if problems:
        raise MnemonicError(problems)
    record = pymarc.Record(leader=leader, force_utf8=True)
    for field in fields:
        record.add_field(field)
    return record


def _data_field(number: int, tag: str, body: str, problems: list[str]) -> pymarc.Field | None:
    where = f"line {number}: {tag}"
    indicators = body[:2].replace("\\", " ")
    if len(indicators) < 2 or not all(_INDICATOR.fullmatch(i) for i in indicators):
        problems.append(
            f"{where} needs two indicators (e.g. a digit, or “\\” for blank) before its first "
            "subfield"
        )
        return None
    rest = body[2:]
    if rest and not rest.startswith("$"):
        problems.append(f"{where}: its subfields start with “$” and a code, e.g. “$a”")
        return None
    subfields = []
    for piece in rest.split("$")[1:]:
        if not piece or not _CODE.fullmatch(piece[0]):
            problems.append(
                f"{where}: “${piece[:1]}” is not a subfield code (a “$” is followed by its "
                "code, e.g. $a; write a dollar sign in the text as {dollar})"
            )
            return None
        subfields.append(pymarc.Subfield(piece[0], _unescape(piece[1:])))
    return pymarc.Field(tag=tag, indicators=pymarc.Indicators(*indicators), subfields=subfields)


def _shown(line: str, limit: int = 40) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
