"""Password guessing against the emulated file exchange: growing waits, per account and address.

The real server and paramiko; the throttle's clock is the test's, so waits are checked without
sleeping.
"""

from __future__ import annotations

import logging

import paramiko
import pytest

from datasync.throttle import Backoff, LoginThrottle

from .conftest import ACCOUNT_PASSWORD, connect

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def filex_options(clock):
    return {"throttle": LoginThrottle(clock=clock)}


def _logs_in(server, username: str, password: str) -> bool:
    try:
        transport, sftp = connect(server, username, password)
    except paramiko.AuthenticationException:
        return False
    sftp.close()
    transport.close()
    return True


def test_thirty_wrong_passwords_lock_the_account_and_the_right_one_then_waits(
    filex_server, account, clock, caplog
):
    caplog.set_level(logging.WARNING, logger="datasync.filex")
    for n in range(30):
        assert not _logs_in(filex_server, "fx_almad", f"guess-{n}")
    checked = [m for m in caplog.messages if "wrong password or unknown account" in m]
    unchecked = [m for m in caplog.messages if "refused unchecked" in m]
    # Three guesses were checked; every later one arrived while the account waited.
    assert (len(checked), len(unchecked)) == (3, 27)

    # The right password during the wait is refused too: a guess that happens to be right
    # must not be told so.
    assert not _logs_in(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    clock.now += 2.0
    assert _logs_in(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    # A successful login clears the account's count.
    assert not _logs_in(filex_server, "fx_almad", "one-more-typo")
    assert _logs_in(filex_server, "fx_almad", ACCOUNT_PASSWORD)


def test_each_failure_after_the_free_ones_doubles_the_wait(clock):
    backoff = Backoff(free=3, base=1.0, ceiling=60, clock=clock)
    waits = []
    for _ in range(10):
        assert backoff.wait("fx_almad") == 0
        waits.append(backoff.fail("fx_almad"))
        clock.now += waits[-1]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60, 60]


def test_guessing_many_accounts_from_one_address_is_throttled_by_address(
    filex_server, account, clock
):
    for n in range(10):
        assert not _logs_in(filex_server, f"fx_guess{n}", "password")
    # Ten unknown accounts from 127.0.0.1: the address now waits, whatever the account.
    assert not _logs_in(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    clock.now += 1.5
    assert _logs_in(filex_server, "fx_almad", ACCOUNT_PASSWORD)


def test_counts_are_forgotten_an_hour_after_the_last_failure(clock):
    throttle = LoginThrottle(clock=clock)
    for _ in range(8):
        clock.now += throttle.failed("fx_almad", "192.0.2.1")
    assert throttle.wait("fx_almad", "192.0.2.1") == 0
    assert throttle.failures("fx_almad", "192.0.2.1") == (8, 8)
    throttle.failed("fx_almad", "192.0.2.1")
    assert throttle.wait("fx_almad", "192.0.2.1") > 0
    clock.now += 3601
    assert throttle.failures("fx_almad", "192.0.2.1") == (0, 0)
    assert throttle.wait("fx_almad", "192.0.2.1") == 0
