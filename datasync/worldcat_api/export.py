"""The holdings export as Collection Manager delivers it, downloaded from the institution admin:
what a library gives reconciliation to find holdings unknown to its ledger."""

from __future__ import annotations

import tempfile

from django.contrib import messages
from django.http import FileResponse
from django.utils import timezone

from audit.log import record as audit

from ..holdings import write_holdings_export
from ..names import EASTERN


def holdings_export_response(request, institutions):
    if institutions.count() != 1:
        messages.error(request, "Choose one institution: each has its own holdings export.")
        return None
    institution = institutions.get()
    # Spooled to a temporary file, not memory: an export lists every holding.
    spool = tempfile.TemporaryFile()
    count = write_holdings_export(institution, spool)
    spool.seek(0)
    stamp = timezone.now().astimezone(EASTERN)
    audit(
        "datasync.holdings.exported",
        actor=request.user,
        target=institution,
        message=f"WorldCat holdings export of {institution.symbol}: {count} record(s)",
    )
    return FileResponse(
        spool,
        as_attachment=True,
        filename=f"metacoll.{institution.file_symbol}.holdings.D{stamp:%Y%m%d}.T{stamp:%H%M%S}.mrc",
        content_type="application/marc",
    )
