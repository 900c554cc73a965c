"""A request's tries and how its answer is read, for both clients in ``detection.client``: the waits between
tries, which answers are worth another, and a refusal as a ``RisklineError`` in one line that names the request
and the service's reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from detection.wording import stray_space

RETRIED = frozenset({429, 502, 503, 504})  # answers that say "not now": the same request may succeed later


class RisklineError(Exception):
    """The service refused a request, or could not answer it through every retry.

    ``status`` is the HTTP status (None when no answer came), ``detail`` the service's reason and
    ``request_id`` the request's ``X-Request-Id`` (one for all its tries), which the service's log lines name.
    From ``send``, ``scored`` holds the answers to the events before the request that failed, in order: those
    were scored (interventions included), and sent again they are answered as duplicates.
    """

    def __init__(self, message: str, status: int | None = None, detail: Any = None,
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.status, self.detail, self.request_id = status, detail, request_id
        self.scored: list[dict[str, Any]] = []


def service_url(base_url: str) -> str:
    """``base_url`` as the clients take it: an http(s) URL with a host. Anything else would fail only at each
    request, after every retry ("localhost:8080" reads as the scheme "localhost")."""
    try:
        parts = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ValueError(f"base_url {base_url!r}: not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ValueError(f"base_url {base_url!r}: expected an http:// or https:// URL with a host, such as "
                         "http://127.0.0.1:8080")
    return base_url


def check_tries(timeout: float, retries: int, backoff: float) -> None:
    """Refuse what would fail only at a request (a negative wait or timeout) or make none answerable (no time)."""
    if not timeout > 0:  # NaN too
        raise ValueError(f"timeout must be above 0, got {timeout!r}")
    for name, value in (("retries", retries), ("backoff", backoff)):
        if not value >= 0:
            raise ValueError(f"{name} must be 0 or more, got {value!r}")


def bearer(api_token: str | None) -> dict[str, str]:
    """The ``Authorization`` header for ``api_token`` (none for None or empty). A token no request could carry is
    refused when the client is made, without quoting it: one with a line break or white space at an end (a
    secret file read whole, which the service refuses as its own token) or a character outside printable ASCII
    failed every request as "no answer" (h11's "Illegal header value", the token in its words), after every
    retry."""
    if not api_token:
        return {}
    if (stray := stray_space(api_token)) is not None:  # as the service says of its own
        raise ValueError(f"api_token {stray}")
    if not (api_token.isascii() and api_token.isprintable()):
        at = next(i for i, c in enumerate(api_token) if not (c.isascii() and c.isprintable()))
        raise ValueError(f"api_token holds a character no HTTP header can carry (at position {at})")
    return {"Authorization": f"Bearer {api_token}"}


class Call:
    """One request's tries, for either client: the waits between them (doubling from ``backoff``), its
    ``X-Request-Id`` (one for every try: the service's log lines of a retried request share it) and its
    failure so far. The tries stop early at an answer that is not ``RETRIED``."""

    def __init__(self, method: str, path: str, base_url: httpx.URL, retries: int, backoff: float) -> None:
        self.method, self.path, self.base_url, self.retries, self.backoff = method, path, base_url, retries, backoff
        self.sent = uuid.uuid4().hex
        self.failure = RisklineError(f"{method} {path}: not sent", request_id=self.sent)  # until the first try

    def waits(self) -> Iterator[float]:
        """Seconds to wait before each try."""
        for attempt in range(self.retries + 1):  # never negative: the clients refuse it (check_tries)
            if attempt and self.failure.status is not None and self.failure.status not in RETRIED:
                return
            yield self.backoff * 2 ** (attempt - 1) if attempt else 0.0

    def unanswered(self, exc: Exception) -> None:
        self.failure = _no_answer(self.method, self.path, self.base_url, exc, self.sent)

    def answered(self, response: httpx.Response) -> dict[str, Any] | None:
        """The body of an answer that succeeded, else None with the refusal kept as the failure."""
        outcome = _judged(self.method, self.path, response, self.sent)
        if isinstance(outcome, RisklineError):
            self.failure = outcome
            return None
        return outcome


def _no_answer(method: str, path: str, base_url: httpx.URL, exc: Exception, sent: str) -> RisklineError:
    # the request may have reached the service all the same (an answer lost on its way back)
    return RisklineError(f"{method} {path}: no answer from {base_url} ({exc!r}) [request {sent}]", request_id=sent)


def _judged(method: str, path: str, response: httpx.Response, sent: str) -> dict[str, Any] | RisklineError:
    """The body of an answer that succeeded (a 2xx with a JSON object), else the refusal (sent again where
    its status is ``RETRIED``). A redirect or a page that is not JSON is a refusal too: the URL is not
    the service's own (a proxy or a login page in between), and no request was scored. The refusal names
    the answer's ``X-Request-Id`` (the service's own where a proxy put one in place of ours), else ours."""
    status, request = response.status_code, f"{method} {path}"
    request_id = response.headers.get("x-request-id", sent)
    if status >= 400:
        return _refusal(request, response, request_id)
    if status >= 300:
        return _error(request, status, f"redirected to {response.headers.get('location')!r}: give the service's "
                                       "own URL", request_id)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _error(request, status, f"the answer is not Riskline's JSON ({response.text[:80]!r}): is "
                                       "the URL the service's own?", request_id)
    return body


def placed(error: RisklineError, start: int, scored: list[dict[str, Any]]) -> RisklineError:
    """A failure of the request whose first event is ``events[start]``, after ``scored``, the answers to the events
    before it: a 422 names its event by its place in ``events``, not in the request."""
    said = _shifted(error, start) if start and error.status == 422 else error
    said.scored = scored
    return said


def _refusal(request: str, response: httpx.Response, request_id: str) -> RisklineError:
    try:
        body = response.json()
    except ValueError:  # a proxy's HTML page
        body = None
    detail = body.get("detail", body) if isinstance(body, dict) else response.text if body is None else body
    return _error(request, response.status_code, detail, request_id)


def _error(request: str, status: int, detail: Any, request_id: str) -> RisklineError:
    """The service's reason in one line: a 422's ``[{"loc": [...], "msg": ...}]`` as ``loc: msg``; then the
    request's id."""
    reason = "; ".join(".".join(str(part) for part in item.get("loc", [])) + f": {item.get('msg')}"
                       if isinstance(item, Mapping) else str(item) for item in detail) \
        if isinstance(detail, list) else str(detail)
    return RisklineError(f"{request}: {status}: {reason} [request {request_id}]", status, detail, request_id)


def _shifted(error: RisklineError, offset: int) -> RisklineError:
    """A 422 for a later request of ``send``, its event's place counted from the first event sent."""
    def shift(item: Any) -> Any:
        loc = item.get("loc") if isinstance(item, Mapping) else None
        if isinstance(loc, list) and loc[:2] == ["body", "messages"] and len(loc) > 2 and isinstance(loc[2], int):
            return {**item, "loc": [*loc[:2], loc[2] + offset, *loc[3:]]}
        return item

    detail = [shift(item) for item in error.detail] if isinstance(error.detail, list) else error.detail
    return _error("POST /v1/messages", 422, detail, str(error.request_id))
