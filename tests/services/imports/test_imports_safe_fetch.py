"""The server fetches manifest URLs only from public addresses; tests reach nothing but a server on 127.0.0.1."""

import socket

import pytest
from factories import PICTURE

from freelunch.services.imports import safe_fetch
from freelunch.services.imports.safe_fetch import FetchError, UnsafeURL


@pytest.fixture
def no_connections(monkeypatch):
    """Fail if anything tries to open a socket: the refusals must happen before connecting."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to connect to {args[0]}")

    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost:8080/x.png",
        "http://10.1.2.3/x.png",
        "http://192.168.0.10/x.png",
        "http://172.16.5.4/x.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.png",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://0.0.0.0/x.png",
        "http://100.64.0.1/x.png",
        "http://224.0.0.1/x.png",
    ],
)
def test_private_loopback_and_reserved_addresses_are_refused(url, no_connections):
    with pytest.raises(UnsafeURL, match="private, loopback or reserved"):
        safe_fetch.fetch(url)


def test_a_public_name_that_resolves_to_a_private_address_is_refused(monkeypatch, no_connections):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", 80)),
        ],
    )
    with pytest.raises(UnsafeURL, match=r"images\.example\.com .*10\.0\.0\.7"):
        safe_fetch.fetch("https://images.example.com/cat.jpg")


@pytest.mark.parametrize(
    "url, message",
    [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.org/", "only http and https"),
        ("http:///nohost", "no host"),
        ("http://user:secret@example.org/x.png", "user name or password"),
        ("http://example.org:99999/x.png", "not a valid URL"),
    ],
)
def test_malformed_and_non_http_urls_are_refused(url, message, no_connections):
    with pytest.raises(UnsafeURL, match=message):
        safe_fetch.fetch(url)


def test_fetching_from_a_local_server_needs_the_test_allowance(local_server):
    with pytest.raises(UnsafeURL):
        safe_fetch.fetch(f"{local_server}/a.png")
    assert safe_fetch.fetch(f"{local_server}/a.png", allow_private=True) == PICTURE
    assert safe_fetch.fetch(f"{local_server}/hop", allow_private=True) == PICTURE


def test_redirects_are_checked_like_the_first_url(local_server, monkeypatch):
    # Only the local server is allowed: the redirect to the metadata address must be refused on its own.
    real_resolve = safe_fetch.resolve
    monkeypatch.setattr(
        safe_fetch, "resolve", lambda host, port, allow=False: real_resolve(host, port, host == "127.0.0.1")
    )
    with pytest.raises(UnsafeURL, match="169.254.169.254"):
        safe_fetch.fetch(f"{local_server}/to-metadata")
    with pytest.raises(FetchError, match="more than 3 redirects"):
        safe_fetch.fetch(f"{local_server}/loop")


def test_errors_and_size_cap(local_server):
    with pytest.raises(FetchError, match="HTTP 404"):
        safe_fetch.fetch(f"{local_server}/nothing.png", allow_private=True)
    with pytest.raises(FetchError, match="larger than"):
        safe_fetch.fetch(f"{local_server}/big", allow_private=True, max_bytes=1000)


@pytest.mark.parametrize(
    "url",
    [
        "https://img.example/a.jpg",
        "http://img.example",
        "https://a-b.c.example/x y?q=1#f",
        "https://img.example?x",
        "https://img.example#x",
        "https://.../x",
        "HTTPS://img.example/a.jpg",
        "https://img.example:443/a.jpg",
        "https://img.example:99999/a.jpg",
        "https://user@img.example/a.jpg",
        "https://img.example@evil.example/a.jpg",
        "https://[::1]/a.jpg",
        "https://[::1/a.jpg",
        "https:///a.jpg",
        "https:/img.example/a.jpg",
        "ftp://img.example/a.jpg",
        "https://bücher.example/a.jpg",
        "https://img.example\\@evil.example/a.jpg",
        "https://img.exa\tmple/a.jpg",
        "https://img.example/a\nb.jpg",
        " https://img.example/a.jpg",
        "//img.example/a.jpg",
    ],
)
def test_validate_url_refuses_exactly_what_check_url_refuses(url):
    """validate_url (a regex for plain URLs, check_url for the rest) says what check_url says, for each URL."""
    try:
        safe_fetch.check_url(url)
        expected = None
    except UnsafeURL as error:
        expected = str(error)
    try:
        safe_fetch.validate_url(url)
        got = None
    except UnsafeURL as error:
        got = str(error)
    assert got == expected
