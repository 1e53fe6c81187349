"""Login throttling for the emulated file exchange: growing waits after failed passwords.

Failures are counted per account name and, separately, per source address. After a few free
failures each further one blocks its key for twice as long as the one before (1 s, 2 s, 4 s, ...
up to `ceiling`); while a key is blocked every login on it is refused without the password even
being checked, so neither many connections at once nor a correct guess made during the wait gets
through. A successful login clears its account's count (not its address's: one known password must
not reset the count of an address that is guessing others). Counts are forgotten `forget_after`
seconds after their last failure.

Counts live in the server process's memory: restarting the exchange forgets them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class Backoff:
    """Failed attempts per key, and how long a key must wait before it may try again."""

    def __init__(
        self,
        *,
        free: int,
        base: float = 1.0,
        ceiling: float = 15 * 60,
        forget_after: float = 60 * 60,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.base = base
        self.ceiling = ceiling
        self.forget_after = forget_after
        self.max_keys = max_keys
        self.clock = clock
        self._failures: dict[str, _Failures] = {}

    def failures(self, key: str) -> int:
        entry = self._current(key)
        return entry.count if entry else 0

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        entry = self._current(key)
        if entry is None or entry.count < self.free:
            return 0.0
        delay = min(self.base * 2 ** (entry.count - self.free), self.ceiling)
        return max(0.0, entry.last + delay - self.clock())

    def fail(self, key: str) -> float:
        """Count a failure; return how long `key` must now wait."""
        now = self.clock()
        entry = self._current(key)
        if entry is None:
            if len(self._failures) >= self.max_keys:
                self._forget_old(now)
            entry = self._failures[key] = _Failures(0, now)
        entry.count += 1
        entry.last = now
        return self.wait(key)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _current(self, key: str) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and self.clock() - entry.last > self.forget_after:
            del self._failures[key]
            return None
        return entry

    def _forget_old(self, now: float) -> None:
        old = [k for k, e in self._failures.items() if now - e.last > self.forget_after]
        for key in old or sorted(self._failures, key=lambda k: self._failures[k].last)[:1000]:
            del self._failures[key]


class LoginThrottle:
    """The exchange's two counters: per account name and per source address."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = Backoff(free=3, clock=clock)
        # Several institutions may share one address (a consortium's NAT): more free failures.
        self.addresses = Backoff(free=10, clock=clock)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return username.strip().lower(), address

    def wait(self, username: str, address: str) -> float:
        account, address = self._keys(username, address)
        return max(self.accounts.wait(account), self.addresses.wait(address))

    def failed(self, username: str, address: str) -> float:
        account, address = self._keys(username, address)
        return max(self.accounts.fail(account), self.addresses.fail(address))

    def succeeded(self, username: str, address: str) -> None:
        self.accounts.clear(self._keys(username, address)[0])

    def failures(self, username: str, address: str) -> tuple[int, int]:
        account, address = self._keys(username, address)
        return self.accounts.failures(account), self.addresses.failures(address)
