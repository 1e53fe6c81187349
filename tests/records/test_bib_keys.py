"""Holdings and OCLC-number rows keep their key to the bib checked by the database (once per
statement, records migration 0009): no row for a bib that does not exist, by the ORM, COPY or
raw SQL, and no bib deleted while rows still name it; Django's own deletes cascade as before."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from records.models import Bib, Holding, OclcNumber

from .helpers import make_bib

pytestmark = pytest.mark.django_db(transaction=True)
MISSING = 10**12


def test_no_holding_or_oclc_number_for_a_bib_that_does_not_exist():
    bib = make_bib("Kept", oclc="12345")
    with pytest.raises(IntegrityError), transaction.atomic():
        Holding.objects.create(bib_id=MISSING, library="MAIN", location="STACKS")
    with pytest.raises(IntegrityError), transaction.atomic():
        OclcNumber.objects.bulk_create(
            [OclcNumber(bib=bib, number="1"), OclcNumber(bib_id=MISSING, number="2")]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Holding.objects.filter(bib=bib).update(bib_id=MISSING)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO records_holding (bib_id, library, location, call_number, created_at) "
            "VALUES (%s, 'MAIN', 'STACKS', '', %s)",
            [MISSING, timezone.now()],
        )
    assert list(OclcNumber.objects.values_list("number", flat=True)) == ["12345"]
    assert Holding.objects.filter(bib=bib).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's")
def test_copy_is_checked_too():
    bib = make_bib("Copied")
    raw_error = connection.Database.IntegrityError  # psycopg's own: COPY is not wrapped
    with pytest.raises(raw_error), transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy("COPY records_oclcnumber (bib_id, number) FROM STDIN") as copy:
            copy.write_row((bib.pk, "777"))
            copy.write_row((MISSING, "778"))
    assert not OclcNumber.objects.filter(number__in=["777", "778"]).exists()


def test_a_bib_with_rows_cannot_be_deleted_around_django_and_django_cascades():
    kept, gone = make_bib("Kept", oclc="1"), make_bib("Gone", oclc="2")
    if connection.vendor == "postgresql":  # SQLite, for development, checks new rows only
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM records_bib WHERE id = %s", [kept.pk])
    assert Bib.objects.filter(pk=kept.pk).exists()
    Bib.objects.filter(pk=gone.pk).delete()  # Django deletes the rows first
    assert not Holding.objects.filter(bib_id=gone.pk).exists()
    assert list(OclcNumber.objects.values_list("number", flat=True)) == ["1"]
