"""A paginator for million-row admin lists: it never counts the whole table."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property


class CheapPaginator(Paginator):
    """Counts at most CAP + 1 rows (an index-only LIMIT query); past that, on PostgreSQL, the
    planner's estimate of the rows of this very query (filters included) stands in, so a huge
    list still gets page links and a count of the right size."""

    CAP = 10_000

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        counted = qs.order_by().values("pk")[: self.CAP + 1].count()
        if counted <= self.CAP or connection.vendor != "postgresql":
            return counted
        sql, params = qs.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            plan = json.loads(plan)
        return max(counted, int(plan[0]["Plan"]["Plan Rows"]))
