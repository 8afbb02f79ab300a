"""The visitor's network address, for limits that count per visitor (guest
sandboxes, sockets, sign-in attempts).

Behind a reverse proxy every connection comes from the proxy, so the address is
read from ``X-Forwarded-For`` — but only the hops added by proxies this site was
told to trust (``settings.TRUSTED_PROXIES``, from ``MEMORYDB_LAB_TRUSTED_PROXIES``):
the header is otherwise the client's own words, and a visitor who could choose
their address could dodge every per-address limit. The rightmost untrusted hop is
the visitor, as the proxy saw it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "unknown"


def client_address(remote: str | None, forwarded_for: str | None) -> str:
    """The visitor's address given the peer and its ``X-Forwarded-For`` header."""
    peer = _normal(remote)
    trusted = _networks(getattr(settings, "TRUSTED_PROXIES", ()))
    if not forwarded_for or peer is None or not _within(peer, trusted):
        return peer or UNKNOWN
    hops = [_normal(h) for h in forwarded_for.split(",")]
    for hop in reversed(hops):
        if hop is None:
            return peer  # a malformed hop: trust nothing the proxies relayed
        if not _within(hop, trusted):
            return hop
    return hops[0] or peer


def request_address(request: HttpRequest) -> str:
    return client_address(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def scope_address(scope: dict[str, Any]) -> str:
    """The same for an ASGI scope (a websocket)."""
    client = scope.get("client") or (None, None)
    forwarded = None
    for name, value in scope.get("headers") or ():
        if name == b"x-forwarded-for":
            forwarded = value.decode("latin-1")
    return client_address(client[0], forwarded)


def _normal(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in network for network in networks)
