"""`--json` output that a script can parse whole: each command runs in its own process, as a cron
job or a shell script would run it, with stdout and stderr kept apart; stdout must be exactly one
JSON document (`json.loads` of all of it), and the log lines must be on stderr."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.management import call_command

from tests.profiles.conftest import make_bib
from tests.profiles.test_xref import STAMP, put_report, sent

from .conftest import manage

pytestmark = [pytest.mark.sshd, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_publish_prints_one_document_and_logs_the_delivery_on_stderr(production_env, profile):
    make_bib("Sent by a script")
    done = manage(production_env, "publish", profile.name, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["counts"]["new"]) == ("succeeded", 1)
    assert "INFO ftp.transfer: Uploading" in done.stderr
    assert "ftp.transfer" not in done.stdout


def test_a_command_that_fails_before_its_result_prints_an_error_document(production_env, profile):
    refused = manage(production_env, "publish", "No such profile", "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == {
        "error": f"No publishing profile named or numbered “No such profile”. ({profile.name})"
    }
    assert "CommandError: No publishing profile" in refused.stderr

    missing = manage(production_env, "fetch_oclc_reports", "nope", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"].startswith("No publishing profile")


def test_import_marc_prints_one_document_even_when_a_file_fails(production_env, shared_marc):
    done = manage(
        production_env,
        "import_marc",
        str(shared_marc / "marc4j/chabon.mrc"),
        str(shared_marc / "ruby-marc/cp866_unimarc.marc"),
        "--json",
    )
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert (result["imported"], result["failed"]) == (2, 1)


def test_fetch_oclc_reports_prints_one_document(production_env, profile, sshd):
    bib = make_bib(oclc=None)
    sent(profile, bib)
    put_report(sshd, f"{STAMP}.f.mrc.xrefrpt.txt", [f"{bib.mms_id}\t903"])
    done = manage(production_env, "fetch_oclc_reports", profile.name, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["counts"]["added"] == 1
    assert "INFO ftp.transfer" in done.stderr


def test_a_log_handler_writing_to_stdout_cannot_spoil_the_document(profile, capsys):
    """Whatever the logging configuration says: with --json, logs are moved off stdout."""
    make_bib("Logged to stdout by mistake")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    transfer_log = logging.getLogger("ftp.transfer")
    transfer_log.addHandler(handler)
    try:
        call_command("publish", profile.name, "--json", stdout=out)
    finally:
        transfer_log.removeHandler(handler)
    assert json.loads(out.getvalue())["status"] == "succeeded"
    assert handler.stream is out  # given back afterwards
    assert "Uploading" in capsys.readouterr().err
