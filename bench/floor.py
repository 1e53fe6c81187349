"""The machine's floor for a Full publish: what the same work costs with nothing but the tools.

Three parts, each on the rows the Full sends (the publishable bibs, in id order):

1. stream: the rows out of PostgreSQL by COPY ... TO STDOUT (FORMAT BINARY), the MARC bytes
   into files split like the Full's (records per file), one ledger row per record spooled
   beside them;
2. upload: those files over SFTP to the same sshd by a tuned paramiko client (AES-GCM, which
   needs no separate MAC; pipelined write requests of 248 KiB, the most OpenSSH's sftp-server
   takes in one), each file's size read back on its open handle as the engine does;
3. ledger: the spooled rows copied into a durable (logged) table shaped like the ledger, with
   its unique (profile, bib) index and its other indexes.

Deliberately not through ftp.transfer or the engine: the floor must not move when the engine's
code does. Nothing here is a guarantee the engine can skip (the engine also decides, patches
LDR/05 and 035, records outcomes per record and verifies before it commits); it is the cost of
moving the same bytes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

# OpenSSH's sftp-server takes requests of up to 256 KiB including headers: 248 KiB of data
# leaves room for them with a round number.
REQUEST_BYTES = 248 * 1024
CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr")


def stream(raw_connection, work: Path, records_per_file: int) -> dict:
    """Part 1: COPY BINARY of the publishable rows into files and a ledger spool."""
    import psycopg

    from records.models import Bib

    work.mkdir(parents=True, exist_ok=True)
    # The eligible records, by the one rule the engine selects with.
    eligible = (
        Bib.objects.publishable()
        .order_by("id")
        .values_list("id", "content_hash", "oclc_numbers", "marc")
    )
    query, params = eligible.query.sql_with_params()
    files: list[Path] = []
    count = size = 0
    spool = work / "ledger.tsv"
    now = datetime.now(UTC).isoformat()
    started = time.perf_counter()
    handle = None
    with raw_connection.cursor() as cursor, open(spool, "w", encoding="utf-8") as ledger:
        # COPY takes no bind parameters: the values are quoted by psycopg on the client.
        select = psycopg.ClientCursor(raw_connection).mogrify(query, params)
        with cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "text", "text", "bytea"])
            name = ""
            for bib_id, chash, oclc, marc in copy.rows():
                if count % records_per_file == 0:
                    if handle is not None:
                        handle.close()
                    name = f"floor.{len(files) + 1:03d}.mrc"
                    files.append(work / name)
                    handle = open(files[-1], "wb")  # noqa: SIM115 - closed below
                handle.write(marc)
                size += len(marc)
                ledger.write(f"1\t{bib_id}\tpublished\t{chash}\t{oclc}\tn\t\t0\t{name}\t{now}\n")
                count += 1
        if handle is not None:
            handle.close()
    raw_connection.commit()
    return {
        "seconds": time.perf_counter() - started,
        "records": count,
        "bytes": size,
        "files": files,
        "spool": spool,
    }


def upload(sshd, directory: str, files: list[Path]) -> dict:
    """Part 2: the files over SFTP by a tuned paramiko client, login included."""
    import paramiko

    started = time.perf_counter()
    transport = paramiko.Transport((sshd.host, sshd.port))
    transport.get_security_options().ciphers = CIPHERS
    transport.start_client(timeout=30)
    transport.auth_password(sshd.username, sshd.password)
    sftp = paramiko.SFTPClient.from_transport(transport)
    size = 0
    try:
        for path in files:
            with open(path, "rb") as local, sftp.open(f"{directory}/{path.name}", "wb") as remote:
                remote.set_pipelined(True)
                remote.MAX_REQUEST_SIZE = REQUEST_BYTES
                while block := local.read(REQUEST_BYTES):
                    remote.write(block)
                sent = remote.stat().st_size
            if sent != path.stat().st_size:
                raise RuntimeError(f"floor upload of {path.name}: server has {sent} bytes")
            size += sent
        cipher = transport.local_cipher
    finally:
        sftp.close()
        transport.close()
    return {
        "seconds": time.perf_counter() - started,
        "files": len(files),
        "bytes": size,
        "cipher": cipher,
    }


def ledger(raw_connection, spool: Path) -> dict:
    """Part 3: one row per record copied into a durable ledger-shaped table (its indexes too)."""
    from profiles.models import PublishedRecord

    table = PublishedRecord._meta.db_table
    with raw_connection.cursor() as cursor:
        # LIKE ... INCLUDING ALL: the ledger's columns, defaults and every index (the unique
        # (profile, bib) one included), without its foreign keys. Logged, as the ledger is.
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS bench_floor_ledger (LIKE {table} INCLUDING ALL)"
        )
        cursor.execute("TRUNCATE bench_floor_ledger")
        raw_connection.commit()
        started = time.perf_counter()
        columns = (
            "profile_id, bib_id, status, content_hash, oclc_numbers, ldr05, holdings_sent, "
            "job_id, file_name, sent_at"
        )
        with open(spool, "rb") as handle:
            with cursor.copy(f"COPY bench_floor_ledger ({columns}) FROM STDIN") as copy:
                while block := handle.read(1 << 20):
                    copy.write(block)
        raw_connection.commit()
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_floor_ledger")
        (rows,) = cursor.fetchone()
    return {"seconds": seconds, "records": rows, "bytes": spool.stat().st_size}


def measure(sshd, directory: str, work: Path, records_per_file: int) -> dict:
    """One measurement of the three parts; the files are removed afterwards."""
    from django.db import connection

    raw = connection.Database.connect(**connection.get_connection_params())
    try:
        streamed = stream(raw, work, records_per_file)
        try:
            uploaded = upload(sshd, directory, streamed["files"])
        finally:
            for path in streamed["files"]:
                path.unlink()
        copied = ledger(raw, streamed["spool"])
        streamed["spool"].unlink()
    finally:
        raw.close()
    del streamed["files"], streamed["spool"]
    return {
        "stream": streamed,
        "upload": uploaded,
        "ledger": copied,
        "seconds": streamed["seconds"] + uploaded["seconds"] + copied["seconds"],
    }
