"""A real HTTP server on 127.0.0.1 (a thread of http.server) serving feeds, pages and failures.

Every request is logged with its conditional headers and the status sent, so tests can assert
what a run fetched. Feeds and pages carry ETags and Last-Modified dates and answer a matching
conditional request with 304. The failure routes are bounded: the slow and endless ones stop by
themselves after a few seconds.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PDF = (ROOT / "tests" / "data" / "formats" / "report.pdf").read_bytes()
LAST_MODIFIED = formatdate(1_740_000_000, usegmt=True)
STALL_SECONDS = 4.0  # how long the slow routes stall before giving up by themselves


def article(title: str, *paragraphs: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title} | Valley Gazette</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/sport'>Sport</a> <a href='/weather'>Weather</a></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright Valley Gazette. Cookie settings.</footer></body></html>"
    ).encode()


def rss(items: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS 2.0 feed as blogs publish it: title, link, date and a summary per item."""
    entries = "".join(
        f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
        f"<pubDate>{date}</pubDate><description>{summary}</description></item>"
        for title, link, date, summary in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Valley Gazette</title><link>http://gazette.example/</link>"
        f"<description>News from the valley</description>{entries}</channel></rss>"
    ).encode()


def atom(entries: list[tuple[str, str, str, str]]) -> bytes:
    """An Atom feed whose entries carry their whole content."""
    body = "".join(
        f"<entry><title>{title}</title><link href='{link}'/><id>{link}</id>"
        f"<updated>{updated}</updated><content type='html'>&lt;p&gt;{content}&lt;/p&gt;</content>"
        "</entry>"
        for title, link, updated, content in entries
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>Beekeepers' journal</title><id>urn:bees</id>"
        f"<updated>2025-05-01T00:00:00Z</updated>{body}</feed>"
    ).encode()


@dataclass
class Request:
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None


@dataclass
class Site:
    """What the server serves (path -> (content type, body)); tests change it between runs."""

    base: str = ""
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def requests(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path == path]

    def clear_log(self) -> None:
        with self.lock:
            self.log.clear()


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: object) -> None:  # the site's log, not stderr
            pass

        def _record(self, status: int) -> None:
            with site.lock:
                site.log.append(
                    Request(
                        self.path,
                        status,
                        self.headers.get("If-None-Match"),
                        self.headers.get("If-Modified-Since"),
                        self.headers.get("User-Agent"),
                    )
                )

        def _send(self, status: int, content_type: str, body: bytes, **headers: str) -> None:
            self._record(status)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            route = getattr(self, "route_" + self.path.strip("/").replace("-", "_"), None)
            if route is not None:
                route()
                return
            with site.lock:
                served = site.pages.get(self.path)
            if served is None:
                self._send(404, "text/plain", b"not found")
                return
            content_type, body = served
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self._record(304)
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self._send(200, content_type, body, ETag=etag, Last_Modified=LAST_MODIFIED)

        # The failures.
        def route_error(self) -> None:
            self._send(500, "text/plain", b"internal error")

        def route_loop(self) -> None:
            self._send(302, "text/plain", b"", Location="/loop-back")

        def route_loop_back(self) -> None:
            self._send(302, "text/plain", b"", Location="/loop")

        def route_moved(self) -> None:
            self._send(301, "text/plain", b"", Location="/articles/ferry.html")

        def route_slow(self) -> None:
            """No answer at all until the client gives up (or STALL_SECONDS pass)."""
            self._record(0)
            time.sleep(STALL_SECONDS)

        def route_endless(self) -> None:
            """Headers, then a body that trickles and never ends (until STALL_SECONDS pass)."""
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            started = time.monotonic()
            try:
                while time.monotonic() - started < STALL_SECONDS:
                    self.wfile.write(b"8\r\n<p>a</p>\r\n")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                return  # the client hung up, as it should

        def route_huge(self) -> None:
            """A page larger than any limit the tests set, streamed without a Content-Length."""
            self._record(200)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"<p>" + b"word " * 2000 + b"</p>"
            try:
                for _ in range(200):
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                return

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer (as riverbed does past a limit) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    server = _Server(("127.0.0.1", 0), _handler(site))
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
