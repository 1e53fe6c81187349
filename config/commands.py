"""Management commands whose `--json` output a script can parse whole.

With `--json`, stdout carries exactly one JSON document and everything else goes to stderr:

- what the command writes through `self.stdout` is the document;
- a `print()` or a log handler writing to stdout while the command runs lands on stderr instead
  (the project's own logging already goes to stderr; this holds whatever LOGGING says);
- a command that stops with an error before writing its document writes `{"error": "..."}`
  instead, so the script still gets one document, and the exit status is non-zero as always.

A command opts in by deriving from `JsonCommand` and declaring its own `--json` flag.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator

from django.core.management.base import BaseCommand, CommandError


class JsonCommand(BaseCommand):
    def execute(self, *args, **options):
        if not options.get("json"):
            return super().execute(*args, **options)
        document = _DocumentStream(options.get("stdout") or sys.stdout)
        options["stdout"] = document
        with contextlib.redirect_stdout(sys.stderr), _logs_off(document.stream):
            try:
                return super().execute(*args, **options)
            except CommandError as exc:
                document.write_error(str(exc))
                raise
            except Exception as exc:
                document.write_error(f"{type(exc).__name__}: the command failed; see stderr.")
                raise


class _DocumentStream:
    """The command's stdout, remembering whether the document was written."""

    def __init__(self, stream):
        self.stream = stream
        self.written = False

    def write(self, text: str) -> int:
        self.written = self.written or bool(text.strip())
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    def write_error(self, message: str) -> None:
        if not self.written:
            self.write(json.dumps({"error": message}, ensure_ascii=False) + "\n")
            self.flush()


@contextlib.contextmanager
def _logs_off(stdout) -> Iterator[None]:
    """Point every log handler that writes to `stdout` at stderr while the block runs."""
    moved = []
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (
                stdout,
                sys.__stdout__,
            ):
                moved.append((handler, handler.setStream(sys.stderr)))
    try:
        yield
    finally:
        for handler, stream in moved:
            handler.setStream(stream)
