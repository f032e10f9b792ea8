"""Fetching a URL a requester gave us, without letting it reach our own network.

A manifest URL is attacker-controlled input that the server fetches (to probe an
image's size), the classic server-side request forgery. So: http(s) only; the
host is resolved once, every address it resolves to must be public (no
loopback, private, link-local such as cloud metadata, multicast or reserved);
the connection goes to the address we checked (no second DNS answer can swap
in 127.0.0.1); redirects are followed by hand and checked the same way; the
body is capped in size and time. Environment proxies are not used.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import ssl
import time
from urllib.parse import urljoin, urlsplit

from ..errors import RequesterError

MAX_BYTES = 20 * 1024 * 1024
TIMEOUT = 10.0  # seconds per socket operation
DEADLINE = 30.0  # seconds for the whole fetch
MAX_REDIRECTS = 3
USER_AGENT = "Freelunch-import/1 (image size probe)"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MB" if n >= 1024 * 1024 else f"{n} bytes"


class FetchError(RequesterError, ValueError):
    """The URL could not be fetched; the message says why, for the import report."""


class UnsafeURL(FetchError):
    """The URL points somewhere the server must not go."""


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified
    )


def resolve(host: str, port: int, allow_private: bool = False) -> str:
    """The address to connect to; refuses a host if any of its addresses is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"cannot resolve host {host!r}") from error
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise FetchError(f"cannot resolve host {host!r}")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not allow_private and not _is_public(ip):
            raise UnsafeURL(
                f"{host} is a private, loopback or reserved address ({ip}); the server does not fetch those"
            )
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str):
        super().__init__(host, port, timeout=TIMEOUT)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str):
        super().__init__(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


# An http(s) URL whose host is plain letters, digits, dots and hyphens (no user, port or brackets), then anything:
# check_url accepts every such URL, and this says so ten times faster (a manifest's rows, tests/services/imports/
# test_imports_safe_fetch.py compares the two).
PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?:[/?#].*)?", re.DOTALL)


def validate_url(url: str) -> None:
    """Raise UnsafeURL where check_url would, saying what is wrong with the URL; nothing else."""
    if not PLAIN_URL.fullmatch(url):
        check_url(url)


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL, or UnsafeURL saying what is wrong with it."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeURL(f"not a valid URL: {error}") from error
    if parts.scheme not in {"http", "https"}:
        raise UnsafeURL("only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("URLs with a user name or password are not allowed")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def fetch(url: str, allow_private: bool = False, max_bytes: int = MAX_BYTES) -> bytes:
    """The body of a public http(s) URL, following up to MAX_REDIRECTS redirects.

    ``allow_private`` exists for tests that serve files from 127.0.0.1; the
    app passes it only when TESTING and IMPORT_ALLOW_PRIVATE_URLS are both set.
    """
    deadline = time.monotonic() + DEADLINE
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, path = check_url(url)
        address = resolve(host, port, allow_private)
        connection = (_PinnedHTTPS if scheme == "https" else _PinnedHTTP)(host, port, address)
        try:
            connection.request("GET", path, headers={"User-Agent": USER_AGENT, "Accept": "image/*"})
            response = connection.getresponse()
            if response.status in {301, 302, 303, 307, 308} and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status != 200:
                raise FetchError(f"the server answered HTTP {response.status}")
            if int(response.getheader("Content-Length") or 0) > max_bytes:
                raise FetchError(f"the file is larger than {_size(max_bytes)}")
            chunks, size = [], 0
            while chunk := response.read(65536):
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the file is larger than {_size(max_bytes)}")
                if time.monotonic() > deadline:
                    raise FetchError(f"the download took longer than {DEADLINE:.0f} s")
            return b"".join(chunks)
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(f"could not download: {error.__class__.__name__}: {error}") from error
        finally:
            connection.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
