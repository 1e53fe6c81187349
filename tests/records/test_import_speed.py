"""The import's database work per chunk, never per record (shape tests; speed is bench/)."""

from __future__ import annotations

import gc
import io
import re

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.importer import Importer
from records.ingest import build_record
from records.models import Bib, Holding, OclcNumber

# COPY is the PostgreSQL path; on SQLite these tests are deselected (see tests/conftest.py).
pytestmark = pytest.mark.postgres


def marc_file(count: int, *, start: int = 0) -> io.BytesIO:
    out = io.BytesIO()
    for n in range(start, start + count):
        fields = [
            (b"001", b"src%06d\x1e" % n),
            (b"003", b"XX\x1e"),
            (b"035", b"  \x1fa(OCoLC)%d\x1e" % (5000 + n)),
            (b"245", f"10\x1faTitre n\u00b0 {n} /\x1fcpar quelqu'un.\x1e".encode()),
            (b"852", b"0 \x1fbMAIN\x1fcSTACKS\x1fhQA%d\x1e" % n),
        ]
        out.write(build_record(b"00000nam a2200000 a 4500", fields))
    out.seek(0)
    return out


@pytest.fixture
def statements(monkeypatch):
    """Every statement the import sends: Django's queries and the COPYs it runs beside them."""
    copies: list[str] = []
    real_copy = psycopg.Cursor.copy

    def copy(self, statement, *args, **kwargs):
        copies.append(str(statement))
        return real_copy(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", copy)

    def run(count: int, *, chunk_size: int = 1000, start: int = 0) -> list[str]:
        copies.clear()
        importer = Importer(chunk_size=chunk_size)
        with CaptureQueriesContext(connection) as ctx:
            importer.import_stream(marc_file(count, start=start), "file.mrc")
            importer.finish()
        assert importer.result.imported == count and not importer.result.errors
        return [q["sql"] for q in ctx.captured_queries] + copies

    return run


def shape(sql: list[str]) -> list[str]:
    """Statements without their literal values, so two runs compare by what they do."""
    return sorted(re.sub(r'"s\d+_x\d+"', "SAVEPOINT", s).split(" WHERE ")[0][:80] for s in sql)


@pytest.mark.django_db
def test_the_statements_of_an_import_do_not_grow_with_the_number_of_records(statements):
    few = statements(10)
    many = statements(400, start=10)
    assert len(few) == len(many) <= 12
    assert shape(few) == shape(many)
    assert sum(s.startswith("COPY") for s in many) == 3  # bibs, OCLC numbers, holdings
    assert Bib.objects.count() == 410
    assert OclcNumber.objects.count() == 410 and Holding.objects.count() == 410


@pytest.mark.django_db
def test_each_chunk_costs_the_same_fixed_statements(statements):
    one = statements(100, chunk_size=100)
    four = statements(400, chunk_size=100, start=100)
    per_chunk = (len(four) - len(one)) // 3
    assert len(four) == len(one) + 3 * per_chunk
    assert per_chunk <= 8


@pytest.mark.django_db
def test_copy_runs_in_binary_and_stored_rows_read_back_exactly(statements):
    sql = statements(3)
    assert all("FORMAT BINARY" in s for s in sql if s.startswith("COPY"))
    bib = Bib.objects.order_by("pk").first()
    data = bytes(bib.marc)
    assert data.endswith(b"\x1d") and len(data) == int(data[:5])
    assert bib.title == "Titre n° 0" and bib.oclc_numbers == "5000"
    assert list(bib.holdings.values_list("library", "location", "call_number")) == [
        ("MAIN", "STACKS", "QA0")
    ]
    assert bib.created_at == bib.updated_at and bib.change_marker > 0


@pytest.mark.django_db
def test_objects_frozen_for_an_import_are_unfrozen_afterwards(statements):
    assert gc.get_freeze_count() == 0
    statements(5)
    assert gc.get_freeze_count() == 0
