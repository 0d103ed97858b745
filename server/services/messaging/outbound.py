"""Outbound HTTP to addresses an operator did not choose (webhooks): public addresses only.

A webhook URL is typed by an admin, so without this check the server would POST to itself,
to the database port or to a cloud metadata address and show the answer in the delivery
log (SSRF with a read-back). The rules:

- http or https only; the host is resolved and *every* address it resolves to must be
  public (not loopback, private, link-local, shared, multicast, reserved or unspecified),
  IPv4 or IPv6, with v4-mapped, NAT64, 6to4 and Teredo forms unwrapped; integer and octal
  spellings (`2130706433`, `0177.1`) are resolved the way the connection would resolve them.
- The check runs when a subscription is made and again at every delivery, and the request
  then connects to the address that was checked (a DNS answer that changes in between —
  rebinding — cannot redirect it). Redirects are never followed; proxies are not used.
- `MINQING_WEBHOOK_ALLOWED_HOSTS` (`host` or `host:port`, comma-separated) lets an operator
  name internal receivers; those skip the address check, nothing else.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app

from server.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
EXCERPT_MAX = 80


class TargetRefused(Invalid):
    """The URL's host is not a public address (nor allow-listed)."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(
            "target_not_allowed",
            f"url: {message}",
            f"字段 url：{message_zh}",
            field="url",
        )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL (Host header, TLS name)
    port: int
    path: str  # path and query
    addresses: tuple[str, ...]  # checked addresses to connect to, in resolver order
    allow_listed: bool


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether `ip` is a global unicast address (an embedded IPv4 address must be too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d connects to a.b.c.d
            return is_public(ip.ipv4_mapped)
        inner = _embedded_v4(ip)
        if inner is not None and not is_public(inner):
            return False
    return bool(
        ip.is_global
        and not ip.is_multicast
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_private
        and not ip.is_reserved
    )


def allowed_hosts() -> tuple[str, ...]:
    return tuple(current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or ())


def _allow_listed(host: str, port: int) -> bool:
    host = host.lower().strip("[]")
    for entry in allowed_hosts():
        entry_host, entry_port = split_host_port(entry)
        if entry_host == host and entry_port in (None, port):
            return True
    return False


def split_host_port(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` → (lower-case host, port or None)."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, ""
    if port and not port.isdigit():
        raise ValueError(f"bad port in {entry!r}")
    return host, (int(port) if port else None)


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to, as the connection would resolve it."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in out:
            out.append(address)
    return out


def check_target(url: str) -> Target:
    """Resolve the URL's host and refuse anything but public addresses (or the allow-list).

    Raises TargetRefused before any connection is made.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise TargetRefused("must be an http(s) URL with a host", "必须是带主机名的 http(s) 地址")
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    listed = _allow_listed(host, port)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError, ValueError):
        raise TargetRefused("the host cannot be resolved", "无法解析该主机名") from None
    if not addresses:
        raise TargetRefused("the host cannot be resolved", "无法解析该主机名")
    if not listed:
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                ip = None
            if ip is None or not is_public(ip):
                raise TargetRefused(
                    "the host is not a public address (loopback, private, link-local, "
                    "multicast and reserved addresses are refused; an operator may allow a "
                    "host with MINQING_WEBHOOK_ALLOWED_HOSTS)",
                    "该主机不是公网地址（回环、内网、链路本地、组播和保留地址均不允许；"
                    "运维人员可通过 MINQING_WEBHOOK_ALLOWED_HOSTS 放行）",
                )
    return Target(scheme, host, port, path, tuple(addresses), listed)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.addresses[0]

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._address = target.addresses[0]

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def excerpt(raw: bytes) -> str:
    """A short, printable hint of a receiver's answer for the delivery log."""
    text = raw.decode("utf-8", "replace")
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    clean = " ".join(clean.split())
    return clean[:EXCERPT_MAX]


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST once to the checked address; (status, first bytes of the answer). No redirects."""
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = connection_class(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        return int(response.status), response.read(EXCERPT_MAX * 4)
    finally:
        connection.close()
