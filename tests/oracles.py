"""Independent programs that judge our MARC: yaz-marcdump, MARC::Charset (Perl), xmllint.

Our code never grades itself: these helpers only run the other programs and hand back what they
said. Each needs its Debian package (`bin/setup --dev` installs them); a missing one skips the
test, which fails the run under CI=true.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared/data/marc/schema/MARC21slim.xsd"

# MARC::Charset's character database, listed: every (set final byte, MARC-8 code) it knows.
_INVENTORY = r"""
use MARC::Charset::Table;
my $db = MARC::Charset::Table->new()->db();
while (my ($k, $v) = each %$db) {
    next unless $k =~ /^(.):(.+)$/s;
    print unpack("H*", $1), " ", unpack("H*", $2), "\n";
}
"""
# marc8_to_utf8 over hex lines: the UTF-8 as hex, or ERROR when it finds no mapping.
_CONVERT = r"""
use MARC::Charset qw(marc8_to_utf8);
$SIG{__WARN__} = sub {};
while (my $line = <STDIN>) {
    chomp $line;
    my $utf8 = marc8_to_utf8(pack("H*", $line));
    if (defined $utf8) { utf8::encode($utf8); print unpack("H*", $utf8), "\n" }
    else { print "ERROR\n" }
}
"""


def need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (bin/setup --dev installs it)")
    return path


def _perl(script: str, stdin: str = "") -> str:
    need("perl")
    done = subprocess.run(
        ["perl", "-e", script], input=stdin, capture_output=True, text=True, check=False
    )
    if "Can't locate MARC/Charset" in done.stderr:
        pytest.skip("MARC::Charset is not installed (Debian libmarc-charset-perl)")
    assert done.returncode == 0, done.stderr
    return done.stdout


def marc_charset_inventory() -> dict[int, list[bytes]]:
    """Every MARC-8 character MARC::Charset knows, by set final byte: {0x4E: [b"A", ...]}.
    Codes of a 94-character set are given as their 7-bit (G0) byte."""
    found: dict[int, list[bytes]] = {}
    for line in _perl(_INVENTORY).splitlines():
        charset, code = line.split()
        found.setdefault(int(charset, 16), []).append(bytes.fromhex(code))
    for codes in found.values():
        codes.sort()
    return found


def marc_charset(values: list[bytes]) -> list[str | None]:
    """MARC::Charset's marc8_to_utf8 of each value; None where it found no mapping."""
    out = _perl(_CONVERT, "".join(v.hex() + "\n" for v in values)).splitlines()
    assert len(out) == len(values)
    return [None if line == "ERROR" else bytes.fromhex(line).decode("utf-8") for line in out]


def yaz_marc8_to_utf8(data: bytes) -> bytes:
    """ISO 2709 MARC-8 records converted by yaz-marcdump to UTF-8 ISO 2709 (LDR/09 = a)."""
    yaz = need("yaz-marcdump")
    with tempfile.NamedTemporaryFile(suffix=".mrc") as source:
        source.write(data)
        source.flush()
        done = subprocess.run(
            [yaz, "-i", "marc", "-o", "marc", "-f", "MARC-8", "-t", "UTF-8", "-l", "9=97"]
            + [source.name],
            capture_output=True,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


def schema_problems(data: bytes) -> str:
    """ "" when yaz-marcdump's MARCXML of these UTF-8 ISO 2709 records validates against
    MARC21slim.xsd, else what yaz-marcdump or xmllint said."""
    yaz = need("yaz-marcdump")
    xmllint = need("xmllint")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "records.mrc"
        source.write_bytes(data)
        xml = subprocess.run(
            [yaz, "-i", "marc", "-o", "marcxml", "-f", "UTF-8", "-t", "UTF-8", str(source)],
            capture_output=True,
            check=False,
        )
        if xml.returncode:
            return f"yaz-marcdump exit {xml.returncode}: {xml.stderr.decode(errors='replace')}"
        target = Path(tmp) / "records.xml"
        target.write_bytes(xml.stdout)
        lint = subprocess.run(
            [xmllint, "--noout", "--schema", str(SCHEMA), str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
    return "" if lint.returncode == 0 else lint.stderr
