"""A worker process for one job that stops, for good, inside the writing stage.

`python -m tests.faults.hooked_worker JOB_ID READY_FILE` runs profiles.tasks.run_job(JOB_ID)
with FileSplitter.add wrapped: after the first record is written to a file, READY_FILE is
created and the process blocks on stdin until it is killed. It stands in for a django-q2
worker where no lock can hold the worker inside the writing loop (the selection's count and its
stream read the same tables).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(job_id: int, ready: Path) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    django.setup()
    from profiles.engine import writer
    from profiles.tasks import run_job

    real_add = writer.FileSplitter.add

    def add_then_hang(self, data: bytes, *args, **kwargs) -> int:
        sequence = real_add(self, data, *args, **kwargs)
        self._handle.flush()
        ready.write_text(str(os.getpid()))
        sys.stdin.read()  # until SIGKILL
        return sequence

    writer.FileSplitter.add = add_then_hang
    run_job(job_id)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
