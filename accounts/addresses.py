"""The address a web request came from, as far as it can be trusted.

REMOTE_ADDR is the address of whoever opened the connection. Behind a reverse proxy that is the
proxy, for every client alike, so the proxy's X-Forwarded-For header is read instead, but only
when the connection comes from a proxy listed in TRUSTED_PROXIES: anyone else could write any
address there. The header is read from the right (each proxy appends the address it saw), skipping
the trusted proxies themselves; the first address that is not one of them is the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(listed: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in listed)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or what a trusted proxy says the client's address is."""
    if request is None:
        return "unknown"
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for entry in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        try:
            ipaddress.ip_address(entry)
        except ValueError:
            # Not an address: the chain cannot be followed further; count it as the proxy's.
            return remote
        if not _is_trusted(entry, networks):
            return entry
    return remote
