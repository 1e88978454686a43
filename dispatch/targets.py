"""Where webhooks may go: public addresses only, unless a setting allows named networks or hosts.

Checked twice: the URL's host at submit (an address literal or a `localhost` name), and every address the
host resolves to right before sending, so a name that later points inside the network is refused too.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

from store.settings import Settings

Address = IPv4Address | IPv6Address
NAT64 = IPv6Network("64:ff9b::/96")
# Checked in this order, so an address gets the most telling name.
RANGES = ("unspecified", "loopback", "link_local", "multicast", "private", "reserved")


def refusal_for_address(address: Address, settings: Settings) -> str | None:
    """Why `address` may not receive webhooks (its kind of range), or None when it may."""
    if any(address in network for network in settings.webhook_allowed_networks):
        return None
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal_for_address(embedded, settings)
    for kind in RANGES:
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if address.is_global else "not globally routable"


def refusal_for_url(url: str, settings: Settings) -> str | None:
    """Why the host of `url` may not receive webhooks, as far as it is known before resolving it."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host in settings.webhook_allowed_hosts:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name"
    try:
        address = ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when it is resolved, before each delivery
    why = refusal_for_address(address, settings)
    return None if why is None else f"{address} is a {why} address"


def _embedded_ipv4(address: Address) -> IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or NAT64 IPv6 address."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None
