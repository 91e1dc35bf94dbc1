"""Requests to URLs that users supply (notification webhooks): never to this machine or its network.

A user's URL is refused when its host is, or resolves to, an address that is not public:
loopback, private, link-local (the cloud metadata service 169.254.169.254 among them),
shared, reserved, multicast or unspecified, IPv4-mapped IPv6 forms included. Staff may allow
hosts or networks with settings.OUTBOUND_ALLOWED (e.g. `hooks.internal,10.0.5.0/24`).

The check runs twice: where the URL enters (`validate_user_url`, a clear field error) and
when a worker sends (`post_json`), since a name may resolve elsewhere by then. `post_json`
resolves once, checks every address, then connects to the checked address itself (TLS
still verifies the certificate for the host name), never follows redirects and ignores
proxy variables, so nothing between the check and the connection can change where it goes.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ALLOWED_SCHEMES = {"http": 80, "https": 443}


class UnsafeURL(ValueError):
    """The URL may not be fetched: the message says why, for the person who entered it."""


def parse_allowed(entries: list[str]) -> tuple[frozenset[str], tuple]:
    """settings.OUTBOUND_ALLOWED entries as (host names, networks); raises ImproperlyConfigured on a bad one."""
    hosts, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
            continue
        except ValueError:
            pass
        if not entry.replace("-", "").replace(".", "").isalnum():
            raise ImproperlyConfigured(f"OUTBOUND_ALLOWED: {entry!r} is neither a host name nor an IP network")
        hosts.add(entry.lower().rstrip("."))
    return frozenset(hosts), tuple(networks)


def _kind_of(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why an address is not public ("" when it is)."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    for kind in ("loopback", "unspecified", "link_local", "private", "multicast", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "" if address.is_global else "non-public"


def _refusal(host: str, address) -> str:
    hosts, networks = parse_allowed(settings.OUTBOUND_ALLOWED)
    if host.lower().rstrip(".") in hosts or any(address in network for network in networks):
        return ""
    kind = _kind_of(address)
    if not kind:
        return ""
    shown = str(address) if str(address) == host else f"{host} resolves to {address}"
    return (
        f"{shown}, a {kind} address of this machine or its network, which a user's URL may not reach "
        "(staff may allow it with OUTBOUND_ALLOWED)"
    )


def _split(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise UnsafeURL("must be an http:// or https:// URL")
    try:
        port = parts.port or ALLOWED_SCHEMES[parts.scheme]
    except ValueError as error:
        raise UnsafeURL(f"has an invalid port: {error}") from error
    return parts.scheme, parts.hostname, port


def _resolve(host: str, port: int) -> list:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def checked_addresses(url: str) -> tuple[str, int, list]:
    """(host, port, its addresses), once every address is allowed.

    Raises UnsafeURL, or OSError when the name does not resolve.
    """
    _, host, port = _split(url)
    addresses = _resolve(host, port)
    for address in addresses:
        if refusal := _refusal(host, address):
            raise UnsafeURL(refusal)
    return host, port, addresses


def validate_user_url(url: str) -> str:
    """For forms and serializers: refuses a URL that is or resolves to an inside address.

    A name that does not resolve now is accepted: it is checked again whenever it is used.
    """
    try:
        checked_addresses(url)
    except OSError:
        pass
    return url


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post_json(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST `body` to `url` at an address checked just now; returns the HTTP status (redirects are not followed).

    Raises UnsafeURL when the URL is or resolves to an inside address, OSError when it cannot be reached.
    """
    host, port, addresses = checked_addresses(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    last_error = OSError(f"{host} has no address")
    for address in addresses:
        connection = connection_class(host, port, address, timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            return connection.getresponse().status
        except OSError as error:  # this address did not answer: try the next one the name has
            last_error = error
        except http.client.HTTPException as error:
            last_error = OSError(f"{address} gave no valid HTTP answer: {error!r}")
        finally:
            connection.close()
    raise last_error
