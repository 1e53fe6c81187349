"""What staff edit for LHRs and several libraries: the Institution OCLC Symbol table and a
holdings record's statements (866-868), each change audited and, for holdings, stamped so the
LHR profile's next Incremental sends it."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from profiles.models import InstitutionOclcSymbol
from records.models import Bib, Holding

from .conftest import make_bib

pytestmark = pytest.mark.django_db

SYMBOLS = "/admin/profiles/institutionoclcsymbol/"


def test_the_symbol_table_is_edited_in_admin_with_an_audit_trail(admin_client):
    response = admin_client.post(f"{SYMBOLS}add/", {"library": "LAW", "symbol": "ALMAL"})
    assert response.status_code == 302
    row = InstitutionOclcSymbol.objects.get()
    assert InstitutionOclcSymbol.mapping() == {"LAW": "ALMAL"}
    assert AuditEntry.objects.filter(action="profiles.symbol.added").exists()

    admin_client.post(f"{SYMBOLS}{row.pk}/change/", {"library": "LAW", "symbol": "ALMLW"})
    changed = AuditEntry.objects.get(action="profiles.symbol.changed")
    assert changed.data["new"] == {"symbol": "ALMLW"}

    refused = admin_client.post(f"{SYMBOLS}add/", {"library": "MUSIC", "symbol": "A B"})
    assert refused.status_code == 200 and "3 to 8 letters" in refused.content.decode()

    admin_client.post(f"{SYMBOLS}{row.pk}/delete/", {"post": "yes"})
    assert not InstitutionOclcSymbol.objects.exists()
    assert AuditEntry.objects.filter(action="profiles.symbol.deleted").exists()


@pytest.mark.django_db(transaction=True)  # each change its own transaction, as in production
def test_a_holdings_statement_edited_in_admin_is_audited_and_stamps_the_bib(admin_client):
    bib = make_bib()
    holding = bib.holdings.get()
    before = Bib.objects.get(pk=bib.pk).change_marker
    response = admin_client.post(
        f"/admin/records/holding/{holding.pk}/change/",
        {
            "library": "MAIN",
            "location": "PER",
            "call_number": holding.call_number,
            "textual_holdings": "v.1(1990)-v.20(2009)",
            "supplement_holdings": "",
            "index_holdings": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    holding = Holding.objects.get(pk=holding.pk)
    assert (holding.location, holding.textual_holdings) == ("PER", "v.1(1990)-v.20(2009)")
    assert Bib.objects.get(pk=bib.pk).change_marker > before
    entry = AuditEntry.objects.get(action="records.holding.changed")
    assert entry.data["after"] == {"location": "PER", "textual_holdings": "v.1(1990)-v.20(2009)"}
