"""The service's OpenAPI document (``GET /openapi.json``): the HTTP API as ``detection.service`` answers it.

Written out rather than derived from the routes: ``POST /v1/messages`` reads its body itself (gzip,
duplicate keys, a field named twice), and every route answers statuses FastAPI cannot see. The body's
schema is the subset of what ``detection.events.to_event`` accepts that JSON Schema can say: a request
it allows is accepted; the service is more lenient than it (ids of up to 1,024 UTF-8 bytes rather than
256 characters, and whole numbers; numeric strings as Unix seconds, any ISO-8601 time with an offset; an
attachment's kind in any case). ``tests/detection/test_service.py`` holds the running service to it with Schemathesis.
"""

from __future__ import annotations

from typing import Any

from detection.events import LATEST_TIMESTAMP, MAX_TEXT_CHARS, STAGES
from detection.policy import LEVELS

# Python's whitespace (str.isspace), spelled out: JSON Schema's \s is ECMAScript's, which differs.
_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# A whole number is taken as an id too, read as its digits; JSON Schema's "integer" takes 5459.0 as well,
# which the service refuses (a float may have lost an id's digits), so the document says strings.
_ID = {"type": "string", "maxLength": 256, "pattern": f"[^{_SPACE}]",
       "description": "Trimmed; up to 1,024 UTF-8 bytes (a whole number is read as its digits)"}
_ERROR = {"type": "object", "required": ["detail"], "properties": {"detail": {"anyOf": [
    {"type": "string"},
    {"type": "array", "items": {"type": "object", "required": ["loc", "msg"], "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"}}}}]}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS_SAID = {
    401: "The API token is set and the request's `Authorization: Bearer` header does not match it",
    404: "No such conversation (never seen, erased or retired)",
    413: "A body over the limit (sent, or once decompressed)",
    415: "A Content-Encoding other than gzip or deflate",
    422: "An invalid body; `loc` names the field (`[\"body\", \"messages\", 3, \"timestamp\"]`)",
    503: "The state store could not be read or written, or scoring timed out: retry (with the same message ids; "
         "a message is never counted twice)"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(_ref("Error"), _ERRORS_SAID[status]) for status in statuses}


def _schemas(max_batch: int) -> dict[str, Any]:
    optional_id = {"type": ["string", "null"], "maxLength": 256}
    event = {
        "type": "object",
        "required": ["conversation_id", "message_id", "sender_id", "timestamp", "text"],
        "properties": {
            "conversation_id": _ID, "message_id": _ID, "sender_id": _ID,
            "timestamp": {"anyOf": [
                {"type": "string", "format": "date-time", "pattern": "^(19[89][0-9]|2[0-8][0-9]{2})-"},
                {"type": "number", "minimum": 0, "exclusiveMaximum": LATEST_TIMESTAMP}],
                "description": "ISO-8601 with a UTC offset, or Unix seconds (a number or a numeric string)"},
            "text": {"type": "string", "maxLength": MAX_TEXT_CHARS, "description": "May be empty"},
            "recipient_id": optional_id,
            "attachment": {"anyOf": [{"type": "string", "enum": ["image", "video", "audio", "file", ""]},
                                     {"type": "null"}]},
            "messages": False,  # a body with "messages" is a batch
        },
        "description": "One message; other fields are ignored",
    }
    level = {"type": "string", "enum": list(LEVELS)}
    intervention = {
        "type": "object",
        "required": ["intervention_id", "conversation_id", "level", "action", "risk_score", "trigger_message_id",
                     "suspect_id", "evidence_message_ids", "model_version", "created_at"],
        "properties": {
            "intervention_id": {"type": "string", "description": "Stable: a redelivery carries the same id"},
            "conversation_id": {"type": "string"}, "level": level, "action": {"type": "string"},
            "risk_score": {"type": "number", "minimum": 0, "maximum": 1},
            "trigger_message_id": {"type": "string"}, "suspect_id": {"type": ["string", "null"]},
            "suspect_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "evidence_message_ids": {"type": "array", "items": {"type": "string"}},
            "driven_by": {
                "type": "object", "required": ["path", "shares"],
                "properties": {"path": {"type": "string", "enum": ["escalation", "text"]},
                               "shares": {"type": "object", "additionalProperties": {"type": "number"}}},
                "description": "What drove the risk at the trigger, as `riskline explain` prints it there: the path "
                               "that decided and up to three groups' shares of the calibrated log-odds"},
            "model_version": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
            "details": {"type": "object"}, "delivered": {"type": "boolean"},
        },
    }
    result = {
        "type": "object",
        "required": ["conversation_id", "message_id", "risk_score", "risk_level", "stage", "intervention",
                     "duplicate"],
        "properties": {
            "conversation_id": {"type": "string"}, "message_id": {"type": "string"},
            "risk_score": {"type": "number", "minimum": 0, "maximum": 1}, "risk_level": level,
            "stage": {"type": "string", "enum": list(STAGES)},
            "intervention": {"anyOf": [_ref("Intervention"), {"type": "null"}]},
            "duplicate": {"type": "boolean", "description": "The message id was scored before: its first answer"},
        },
    }
    conversation = {
        "type": "object",
        "required": ["conversation_id", "n_messages", "risk_score", "risk_level", "peak_stage", "interventions"],
        "properties": {
            "conversation_id": {"type": "string"}, "n_messages": {"type": "integer", "minimum": 0},
            "risk_score": {"type": "number", "minimum": 0, "maximum": 1}, "risk_level": level,
            "current_score": {"type": "number", "minimum": 0, "maximum": 1}, "current_level": level,
            "last_message_at": {"type": ["string", "null"]}, "peak_stage": {"type": "string", "enum": list(STAGES)},
            "alert_index": {"type": ["integer", "null"]}, "alert_message_id": {"type": ["string", "null"]},
            "suspect_id": {"type": ["string", "null"]},
            "suspect_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "evidence_message_ids": {"type": "array", "items": {"type": "string"}},
            "other_language": {"type": "boolean"}, "evidence_from_index": {"type": "integer", "minimum": 0},
            "interventions": {"type": "array", "items": _ref("Intervention")},
        },
    }
    return {
        "MessageEvent": event,
        "Batch": {"type": "object", "required": ["messages"], "properties": {"messages": {
            "type": "array", "items": _ref("MessageEvent"), "minItems": 1, "maxItems": max_batch}}},
        "Result": result,
        "Intervention": intervention,
        "Conversation": conversation,
        "Error": _ERROR,
    }


def _head(get: dict[str, Any]) -> dict[str, Any]:
    """The HEAD of a path that answers GET (as HTTP asks of a server, and as load balancers' health checks
    send): the same statuses, token and parameters, without a body."""
    return {**get, "operationId": f"{get['operationId']}_head", "summary": f"{get['summary']} (no body)",
            "responses": {code: {"description": answer["description"]} for code, answer in get["responses"].items()}}


def openapi_document(max_batch: int, token: bool, version: str) -> dict[str, Any]:
    """The document for a service taking up to ``max_batch`` messages a request; ``token``: one is required."""
    guarded: dict[str, Any] = {"security": [{"bearer": []}]} if token else {}
    auth = (401,) if token else ()
    conversation_id = [{"name": "conversation_id", "in": "path", "required": True, "schema": {"type": "string"},
                        "description": "May hold '/'"}]
    ok = {"type": "object"}
    paths: dict[str, dict[str, Any]] = {
        "/v1/messages": {"post": {
            "operationId": "post_messages", "summary": "Score messages", **guarded,
            "description": f"One message event, or up to {max_batch} as `{{\"messages\": [...]}}`; the body "
                           "may be sent with `Content-Encoding: gzip` or `deflate`.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "anyOf": [_ref("MessageEvent"), _ref("Batch")]}}}},
            "responses": {"200": _json({"type": "object", "required": ["results"], "properties": {
                "results": {"type": "array", "items": _ref("Result")}}}, "One result per message, in order"),
                **_errors(*auth, 413, 415, 422, 503)}}},
        "/v1/conversations/{conversation_id}": {
            "get": {"operationId": "get_conversation", "summary": "A conversation's risk and interventions",
                    **guarded, "parameters": conversation_id,
                    "responses": {"200": _json(_ref("Conversation"), "The conversation"),
                                  **_errors(*auth, 404, 503)}},
            "delete": {"operationId": "erase_conversation", "summary": "Forget a conversation", **guarded,
                       "parameters": conversation_id,
                       "responses": {"200": _json({"type": "object", "required": ["conversation_id", "erased"],
                                                   "properties": {"conversation_id": {"type": "string"},
                                                                  "erased": {"const": True}}}, "Erased"),
                                     **_errors(*auth, 404, 503)}}},
        "/healthz": {"get": {"operationId": "healthz", "summary": "The process is up",
                             "responses": {"200": _json(ok, "Up")}}},
        "/readyz": {"get": {"operationId": "readyz",
                            "summary": "The model is loaded and the state store answers and takes writes",
                            "responses": {"200": _json(ok, "Ready"), "503": _json(ok, "Not ready, and why")}}},
        "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics", "responses": {"200": {
            "description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
    }
    for operations in paths.values():  # the service answers HEAD wherever it answers GET (``service.create_app``)
        if "get" in operations:
            operations["head"] = _head(operations["get"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "Riskline", "version": version,
                 "description": "Risk of grooming and sextortion escalation, scored after every message. Every "
                                "answer carries an `X-Request-Id` header: the request's own where it is visible "
                                "ASCII of up to 200 characters, else a new one; the service's log line for the "
                                "request names it."},
        "paths": paths,
        "components": {"schemas": _schemas(max_batch),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
