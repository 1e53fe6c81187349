# Holdings and OCLC-number rows keep their key to records_bib checked by the database, once per
# statement instead of per row: a foreign key's check is a query per row (deferred to commit,
# where an import waited for it: about 8 µs a record of PostgreSQL's time), a statement trigger
# with a transition table is one anti-join over the rows the statement wrote. Immediate, not
# deferred: the bib is always written first (records.actions, the importer) and Django deletes
# a bib's rows before the bib. SQLite (development) checks new rows, per row.

import django.db.models.deletion
from django.db import migrations, models

CHILDREN = ("records_holding", "records_oclcnumber")
PG_KEY_CHECK = """
CREATE OR REPLACE FUNCTION records_bib_key_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing bigint;
BEGIN
    SELECT w.bib_id INTO missing FROM written w
     WHERE NOT EXISTS (SELECT 1 FROM records_bib b WHERE b.id = w.bib_id) LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'insert or update on table "'
            || TG_TABLE_NAME || '" violates its key to records_bib: no bib with id ' || missing;
    END IF;
    RETURN NULL;
END
$$
"""
PG_REFERENCED = """
CREATE OR REPLACE FUNCTION records_bib_still_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE kept bigint;
BEGIN
    SELECT g.id INTO kept FROM gone g
     WHERE EXISTS (SELECT 1 FROM records_holding h WHERE h.bib_id = g.id)
        OR EXISTS (SELECT 1 FROM records_oclcnumber o WHERE o.bib_id = g.id)
     LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING MESSAGE = 'delete on table "records_bib" violates '
            || 'the key of its holdings or OCLC numbers: bib ' || kept || ' is still referenced';
    END IF;
    RETURN NULL;
END
$$
"""


def _pg_statements() -> list[str]:
    statements = [PG_KEY_CHECK, PG_REFERENCED]
    for table in CHILDREN:
        for event in ("INSERT", "UPDATE"):
            statements.append(
                f"CREATE TRIGGER {table}_bib_key_{event.lower()} AFTER {event} ON {table} "
                "REFERENCING NEW TABLE AS written FOR EACH STATEMENT "
                "EXECUTE FUNCTION records_bib_key_check()"
            )
    statements.append(
        "CREATE TRIGGER records_bib_still_referenced AFTER DELETE ON records_bib "
        "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
        "EXECUTE FUNCTION records_bib_still_referenced()"
    )
    return statements


def _sqlite_statements() -> list[str]:
    abort = "BEGIN SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed'); END"
    statements = []
    for table in CHILDREN:
        for event in ("INSERT", "UPDATE OF bib_id"):
            name = f"{table}_bib_key_{event.split()[0].lower()}"
            statements.append(
                f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW WHEN NOT EXISTS "
                f"(SELECT 1 FROM records_bib WHERE id = NEW.bib_id) {abort}"
            )
    # No check on deleting a bib here: Django's flush (tests, `manage.py flush`) empties
    # SQLite's tables with DELETE in an order that knows nothing of these keys.
    return statements


def create_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in _pg_statements() if postgresql else _sqlite_statements():
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for table in CHILDREN:
        for event in ("insert", "update"):
            on = f" ON {table}" if postgresql else ""
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_bib_key_{event}{on}")
    on = " ON records_bib" if postgresql else ""
    schema_editor.execute(f"DROP TRIGGER IF EXISTS records_bib_still_referenced{on}")
    if postgresql:
        schema_editor.execute("DROP FUNCTION IF EXISTS records_bib_key_check()")
        schema_editor.execute("DROP FUNCTION IF EXISTS records_bib_still_referenced()")


class Migration(migrations.Migration):
    dependencies = [
        ("records", "0008_holding_textual_holdings"),
    ]

    operations = [
        migrations.AlterField(
            model_name="holding",
            name="bib",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="holdings",
                to="records.bib",
            ),
        ),
        migrations.AlterField(
            model_name="oclcnumber",
            name="bib",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="oclc_number_rows",
                to="records.bib",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
