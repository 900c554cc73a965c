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


def test_a_connection_broken_before_the_answer_is_tried_again_with_the_same_request_id() -> None:
    """A server that hangs up on a request's first two tries without answering (a proxy restarting), then
    answers: the third try's answer is the result, and all three carried one X-Request-Id. With fewer
    retries than that, the error says there was no answer and names that id."""
    tries: list[str | None] = []
    hang_ups = [0]  # how many tries to come are hung up on

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            tries.append(self.headers.get("X-Request-Id"))
            if hang_ups[0]:  # hang up: the client reads no answer at all
                hang_ups[0] -= 1
                self.close_connection = True
                self.connection.shutdown(2)
                return
            body = b'{"results": [{"conversation_id": "c", "message_id": "m", "duplicate": false}]}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        hang_ups[0] = 2
        assert RisklineClient(url, retries=2, backoff=0.01).send([EVENT]) == [
            {"conversation_id": "c", "message_id": "m", "duplicate": False}]
        assert len(tries) == 3 and len(set(tries)) == 1 and re.fullmatch("[0-9a-f]{32}", tries[0] or "")
        hang_ups[0] = 2
        with pytest.raises(RisklineError, match=r"^POST /v1/messages: no answer from http://127.0.0.1:\d+ ") as lost:
            RisklineClient(url, retries=1, backoff=0.01).send([EVENT])
        assert lost.value.status is None and len(tries) == 5
        assert lost.value.request_id == tries[3] == tries[4] != tries[0]
        hang_ups[0] = 2
        answered = asyncio.run(AsyncRisklineClient(url, retries=2, backoff=0.01).send([EVENT]))
        assert answered[0]["message_id"] == "m" and len(tries) == 8 and tries[5] == tries[6] == tries[7] != tries[4]
    finally:
        server.shutdown()


def test_a_base_url_no_request_could_use_is_refused_when_the_client_is_made() -> None:
    """'localhost:8080' reads as the scheme 'localhost': each request failed only after every retry (7.5 s)."""
    for url in ("localhost:8080", "", "ftp://risk.internal", "http://"):
        for client in (RisklineClient, AsyncRisklineClient):
            with pytest.raises(ValueError, match=rf"^base_url {re.escape(repr(url))}: expected an http:// or "
                                                 r"https:// URL with a host, such as http://127\.0\.0\.1:8080$"):
                client(url)
    with pytest.raises(ValueError, match=r"^base_url 'http://\[::1': not a URL"):
        RisklineClient("http://[::1")
    assert str(RisklineClient("https://risk.internal/riskline/")._http.base_url) == "https://risk.internal/riskline/"



def test_a_token_no_request_could_carry_is_refused_when_the_client_is_made_without_quoting_it() -> None:
    """A token read whole from a secret file ends in a line break: every request failed as "no answer" after every
    retry, h11's "Illegal header value b'Bearer s3cret\\n'" quoting the token into the caller's logs."""
    said = {"s3cret\n": "a line break at its end; remove it", "s3cret\r\n": "a line break at its end; remove it",
            "s3cret ": "white space at its end; remove it", "\ts3cret": "white space at its start; remove it"}
    for token, why in said.items():
        for client in (RisklineClient, AsyncRisklineClient):
            with pytest.raises(ValueError) as refused:
                client("http://127.0.0.1:8080", api_token=token)
            assert str(refused.value) == f"api_token has {why}"
    for token, at in (("s3\x00cret", 2), ("s3crét", 4)):
        with pytest.raises(ValueError, match=rf"^api_token holds a character no HTTP header can carry \(at "
                                             rf"position {at}\)$"):
            RisklineClient("http://127.0.0.1:8080", api_token=token)
    with RisklineClient("http://127.0.0.1:8080", api_token="s3cret") as fine, \
            RisklineClient("http://127.0.0.1:8080", api_token="") as unset:
        assert fine._http.headers["Authorization"] == "Bearer s3cret" and "Authorization" not in unset._http.headers

def test_tries_that_could_not_be_made_are_refused_when_the_client_is_made() -> None:
    """A negative backoff or timeout failed only once a request had failed ("sleep length must be
    non-negative"); a timeout of 0 made every request fail, after every retry."""
    for settings, said in (({"backoff": -1.0}, "backoff must be 0 or more, got -1.0"),
                           ({"timeout": 0}, "timeout must be above 0, got 0"),
                           ({"timeout": float("nan")}, "timeout must be above 0, got nan"),
                           ({"retries": -1}, "retries must be 0 or more, got -1")):
        for client in (RisklineClient, AsyncRisklineClient):
            with pytest.raises(ValueError, match=rf"^{said}$"):
                client("http://127.0.0.1:8080", **settings)
    RisklineClient("http://127.0.0.1:8080", retries=0, backoff=0)  # one try, or no wait: allowed


def test_tries_wait_doubling_and_stop_at_an_answer_that_is_not_worth_another() -> None:
    """Before each try: none, then ``backoff`` doubling. A "not now" (429 rate limiting, 502, 503, 504) is tried
    again; any other refusal (a 422, a 401) ends the tries, as sent again it is refused again."""
    import httpx

    from detection.client_calls import Call

    def waits(statuses: list[int | None]) -> list[float]:
        call, seen = Call("POST", "/v1/messages", httpx.URL("http://127.0.0.1:9"), 4, 0.5), []
        answers = iter(statuses)
        for wait in call.waits():
            seen.append(wait)
            status = next(answers, None)
            if status is None:
                call.unanswered(httpx.ConnectError("refused"))
            else:
                call.answered(httpx.Response(status, json={"detail": "no"}, request=httpx.Request("POST", "http://h")))
        return seen

    assert waits([None] * 5) == [0.0, 0.5, 1.0, 2.0, 4.0]
    for status in (429, 502, 503, 504):
        assert waits([status] * 5) == [0.0, 0.5, 1.0, 2.0, 4.0], status
    for status in (400, 401, 404, 413, 422):
        assert waits([503, status, 503]) == [0.0, 0.5], status


def test_a_refusal_says_what_its_answer_holds_in_one_line() -> None:
    """The service's ``detail`` (a 422's places and reasons), else a JSON answer as it is (a list: its items), else
    the page's text."""
    import httpx

    from detection.client_calls import Call

    def refused(**answer: object) -> str:
        call = Call("POST", "/v1/messages", httpx.URL("http://h"), 0, 0)
        assert call.answered(httpx.Response(400, request=httpx.Request("POST", "http://h"), **answer)) is None
        return str(call.failure).split(" [request ")[0]

    assert refused(json={"detail": [{"loc": ["body", "messages", 2, "text"], "msg": "missing"}]}) == \
        "POST /v1/messages: 400: body.messages.2.text: missing"
    assert refused(json=["too many", "slow down"]) == "POST /v1/messages: 400: too many; slow down"
    assert refused(text="<html>Bad request</html>") == "POST /v1/messages: 400: <html>Bad request</html>"


def test_one_event_or_text_sent_alone_is_refused_before_a_request() -> None:
    client = RisklineClient("http://127.0.0.1:9", retries=0)  # nothing listens: no request is made
    for alone, kind in ((EVENT, "dict"), ("hello", "str"), (b"hello", "bytes")):
        with pytest.raises(TypeError, match=rf"^send\(\) takes a list of events, not a {kind}: send\(\[event\]\)"):
            client.send(alone)  # type: ignore[arg-type]
    client.close()
