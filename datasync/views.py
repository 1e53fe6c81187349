"""Downloading the reports OCLC wrote back (as staff would from My Files)."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from .models import Report


@permission_required("datasync.view_report", raise_exception=True)
def report(request, pk: int) -> HttpResponse:
    report = get_object_or_404(Report, pk=pk)
    response = HttpResponse(report.content, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{report.file_name}"'
    return response
