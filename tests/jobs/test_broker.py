"""jobs/broker.py, one step at a time: a task a live pusher has taken is held by its lock and
never handed to another; once the pusher's session is gone (its process died) the task is
available again at the next look, whatever its `retry` time says."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.tasks import async_task

from jobs.broker import ORM, free_stranded

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def take(broker: ORM) -> list[int]:
    return [pk for pk, _ in broker.dequeue() or []]


def test_a_task_held_by_a_live_pusher_stays_with_it_and_a_dead_pusher_s_comes_back(monkeypatch):
    monkeypatch.setattr(Conf, "POLL", 0)  # an empty look at the queue returns at once
    first, second = ORM(), ORM()
    async_task("math.floor", 1.5, task_name="one")
    (pk,) = OrmQ.objects.values_list("pk", flat=True)
    assert take(first) == [pk]
    # Taken: marked for django-q2's `retry` time, and held by the first pusher's lock.
    assert OrmQ.objects.get(pk=pk).lock > timezone.now()
    assert free_stranded() == 0 and take(second) == []
    # Past its `retry` time, a task a live pusher holds is not handed to another pusher; the
    # holder lets go of it at its next look (and takes it again: django-q2's own retry).
    OrmQ.objects.filter(pk=pk).update(lock=timezone.now())
    assert take(second) == []
    assert take(first) == [pk]

    # The first pusher's process dies: its session ends, and the task is given back at once.
    first._lease_state[1].close()
    assert OrmQ.objects.get(pk=pk).lock > timezone.now()
    assert free_stranded() == 1
    assert take(second) == [pk]
    # Done: acknowledged (row deleted), and its lock let go of at the next look.
    second.acknowledge(pk)
    assert take(second) == [] and second._lease_state[2] == set()
    assert free_stranded() == 0
