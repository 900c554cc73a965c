"""The client against a URL that is not the service's own: a real HTTP server that redirects, or answers
a page that is not Riskline's JSON (a proxy or a login page in between)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from detection.client import AsyncRisklineClient, RisklineClient, RisklineError

EVENT = {"conversation_id": "c", "message_id": "m", "sender_id": "u", "timestamp": 1_700_000_000, "text": "hi"}


RECEIVED: list[str | None] = []  # the X-Request-Id of each request the server below was sent


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[str]:
    """POSTs are redirected (a plain-HTTP port sending clients to HTTPS); GETs answer a login page, with the
    proxy's own X-Request-Id."""

    class Handler(BaseHTTPRequestHandler):
        def parse_request(self) -> bool:
            parsed = super().parse_request()
            RECEIVED.append(self.headers.get("X-Request-Id"))
            return parsed

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(308)
            self.send_header("Location", "https://riskline.example/v1/messages")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            page = b"<html><body>Please sign in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("X-Request-Id", "proxy-7")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_DELETE = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_redirect_or_a_page_is_an_error_naming_it_not_a_result(elsewhere: str) -> None:
    """The error names the request's id: the one the client sent, or the answer's own where it has one."""
    client = RisklineClient(elsewhere, retries=0)
    with pytest.raises(RisklineError, match=r"^POST /v1/messages: 308: redirected to "
                                            r"'https://riskline.example/v1/messages': give the service's own URL "
                                            r"\[request [0-9a-f]{32}\]$") as redirected:
        client.send([EVENT])
    assert redirected.value.request_id == RECEIVED[-1] and str(redirected.value).endswith(f"[request {RECEIVED[-1]}]")
    with pytest.raises(RisklineError, match=r"^GET /v1/conversations/c: 200: the answer is not Riskline's JSON "
                                            r"\('<html><body>Please sign in.*\[request proxy-7\]$") as paged:
        client.conversation("c")
    assert paged.value.request_id == "proxy-7" and re.fullmatch("[0-9a-f]{32}", RECEIVED[-1] or "")
    with pytest.raises(RisklineError, match="not Riskline's JSON") as refused:  # not "erased"
        client.erase("c")
    assert refused.value.status == 200

    async def awaited() -> None:
        aclient = AsyncRisklineClient(elsewhere, retries=0)
        with pytest.raises(RisklineError, match=r"^POST /v1/messages: 308: redirected to "):
            await aclient.send([EVENT])
        with pytest.raises(RisklineError, match="not Riskline's JSON"):
            await aclient.conversation("c")
        with pytest.raises(RisklineError, match="not Riskline's JSON"):
            await aclient.erase("c")
        await aclient.aclose()

    asyncio.run(awaited())
