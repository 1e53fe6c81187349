"""Random catalogue changes of every kind that matters to publishing, from a seeded generator."""

from __future__ import annotations

import random

from records import actions
from records.models import Bib
from tests.profiles.conftest import edit_bib, make_bib

KINDS = ["edit", "edit", "tag", "holding", "delete", "new"]


def random_changes(rng: random.Random, bibs: list[Bib], n: int) -> list[Bib]:
    """Make n changes (MARC edits, tag flips, holdings deleted or added back, bib deletions,
    new bibs) to `bibs` (new ones are appended); returns the bibs touched."""
    touched = []
    for _ in range(n):
        kind = rng.choice(KINDS)
        live = [b for b in bibs if b.deleted_at is None]
        if kind == "new" or not live:
            bib = make_bib()
            bibs.append(bib)
        else:
            bib = rng.choice(live)
            bib.refresh_from_db()
            if kind == "edit":
                edit_bib(bib, f"note {rng.random():.12f}")
            elif kind == "tag":
                actions.set_export_tag([bib], rng.choice(["publish_bib", "dont_publish"]))
            elif kind == "holding":
                holding = bib.holdings.first()
                if holding is not None and rng.random() < 0.7:
                    actions.delete_holding(holding)
                else:
                    actions.add_holding(bib, "MAIN", "STACKS", "QA1")
            else:
                actions.delete_bib(bib)
            bib.refresh_from_db()
        touched.append(bib)
    return touched
