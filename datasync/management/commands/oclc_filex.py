"""Run the emulated OCLC file exchange (SFTP) until interrupted."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from datasync.filex import start_filex

logger = logging.getLogger("datasync.filex")


# What marks a folder as the application's own: its development keys and its SQLite database.
APPLICATION_FILES = ("secret_key", "field_encryption_key", "db.sqlite3")


def root_problem(root: Path, data_dir: Path) -> str | None:
    """Why `root` cannot be the exchange's root: the tree it serves must not hold the data folder,
    nor lie in a data folder that holds the application's keys or database."""
    if root == data_dir or data_dir.is_relative_to(root):
        return (
            f"The exchange's root {root} contains the data folder {data_dir}: give the "
            "exchange a folder of its own (OCLC_FILEX_ROOT or --root)."
        )
    held = [name for name in APPLICATION_FILES if (data_dir / name).exists()]
    if root.is_relative_to(data_dir) and held:
        return (
            f"The exchange's root {root} is inside the application's data folder {data_dir}, "
            f"beside its {', '.join(held)}: give the exchange a folder of its own outside it "
            "(OCLC_FILEX_ROOT or --root)."
        )
    return None


class Command(BaseCommand):
    help = (
        "Run the emulated OCLC file exchange: an SFTP server whose accounts upload Data Sync files "
        "to /xfer/metacoll/in/bib and find OCLC's reports in /xfer/metacoll/reports."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None, help="default: OCLC_FILEX_HOST")
        parser.add_argument("--port", type=int, default=None, help="default: OCLC_FILEX_PORT")
        parser.add_argument("--root", default=None, help="default: OCLC_FILEX_ROOT")
        parser.add_argument(
            "--pickup-delay",
            type=float,
            default=30.0,
            help="seconds before a picked-up upload disappears from in/bib (default 30)",
        )

    def handle(self, *args, **options):
        host = options["host"] or settings.OCLC_FILEX_HOST
        port = options["port"] if options["port"] is not None else settings.OCLC_FILEX_PORT
        root = Path(options["root"] or settings.OCLC_FILEX_ROOT).resolve()
        if not 0 <= port <= 65535:
            raise CommandError(f"--port must be between 0 and 65535, not {port}")
        problem = root_problem(root, Path(settings.DATA_DIR).resolve())
        if problem:
            raise CommandError(problem)
        try:
            asyncio.run(self.serve(host, port, root, options["pickup_delay"]))
        except KeyboardInterrupt:
            self.stdout.write("OCLC file exchange stopped.")

    async def serve(self, host: str, port: int, root: Path, pickup_delay: float) -> None:
        try:
            acceptor, key = await start_filex(
                host=host, port=port, root=root, pickup_delay=pickup_delay
            )
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        message = (
            f"OCLC file exchange listening on sftp://{host}:{acceptor.get_port()} "
            f"(root {root}); host key {key.get_fingerprint('sha256')}"
        )
        logger.info(message)
        self.stdout.write(message)
        self.stdout.flush()
        await acceptor.wait_closed()
