"""The JSON API's plumbing: declared endpoints, validation, errors, and the OpenAPI document built from them.

Every endpoint is declared with ``@endpoint(blueprint, METHOD, rule, ...)``: who may call it, the pydantic model
its body and query must fit (unknown fields are refused), and the model it answers with. The same declarations
produce ``/api/openapi.json``, so the document cannot drift from the code.

Errors are JSON: ``{"status": 404, "error": "not-found", "message": "...", "fields": {...}, "request_id": "..."}``;
``error`` is a stable id a client can branch on (each declared once, with its status, in ``leadcenter/errors.py``),
``fields`` maps a field path to what is wrong with it.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Flask, Response, g, jsonify, request
from peewee import IntegrityError, OperationalError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from pydantic_core import ErrorDetails
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import IntegerConverter

from leadcenter import cluster, statemachine
from leadcenter.errors import ERRORS, ApiError, invalid
from leadcenter.web import auth
from leadcenter.wire import DATE_RANGE, INT_RANGE

log = logging.getLogger(__name__)


@dataclass
class Endpoint:
    method: str
    path: str  # OpenAPI form: /leads/{lead_id}
    summary: str
    tag: str
    roles: str  # the lowest role allowed: agent | supervisor | admin | public; owner: the installation owner only
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    path_params: list[str] = field(default_factory=list)
    upload: tuple[str, ...] = ()  # media types of a file sent as the raw body (instead of a JSON body)


# A file sent to an upload endpoint may be larger than a JSON body (app.config MAX_CONTENT_LENGTH).
UPLOAD_BYTES = 16 * 1024 * 1024


REGISTRY: list[Endpoint] = []
_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def endpoint(bp: Blueprint, method: str, rule: str, *, summary: str, role: str = "agent",
             body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
             response: type[BaseModel] | None = None, status: int = 200, upload: tuple[str, ...] = ()) -> Callable:
    """Declare an API endpoint. The view is called as ``view(principal, body=..., query=..., **path_params)``
    (body/query only when declared; principal is None for public endpoints) and returns a model, a dict, a
    list of models, None (204) or a ready Response (files). With ``upload`` (media types), the view gets the raw
    request body as ``upload=bytes`` instead of a JSON body."""
    prefix = bp.url_prefix or ""
    spec = Endpoint(method, prefix + _RULE_PARAM.sub(r"{\2}", rule), summary, bp.name, role, body, query,
                    response, status, [m.group(2) for m in _RULE_PARAM.finditer(rule)], upload)
    REGISTRY.append(spec)

    def decorate(view):
        @functools.wraps(view)
        def handle(**path_params):
            principal = None if role == "public" else auth.require(role)
            kwargs: dict[str, Any] = dict(path_params)
            if body is not None:
                kwargs["body"] = _validate(body, _json_object(), "body")
            if query is not None:
                kwargs["query"] = _validate(query, request.args.to_dict(), "query")
            if upload:
                kwargs["upload"] = _uploaded(upload)
            result = view(principal, **kwargs)
            if result is None:
                return "", 204
            if isinstance(result, Response):  # a file, e.g. a recording
                return result
            return jsonify(_dump(result)), status

        bp.add_url_rule(rule, endpoint=view.__name__, view_func=handle, methods=[method])
        return handle
    return decorate


def _json_object() -> dict:
    if not request.is_json:
        raise ApiError("json-required", "send the body as JSON (Content-Type: application/json)")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser recurses once per level: [[[[... a megabyte deep exhausts the stack
        raise ApiError("malformed-json", "the body is nested too deeply") from None
    if data is None:
        raise ApiError("malformed-json", "the body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError("invalid-fields", "the body must be a JSON object", {"": "expected an object"})
    return data


def _uploaded(media_types: tuple[str, ...]) -> bytes:
    if request.mimetype not in media_types:
        raise ApiError("unsupported-media-type",
                       f"send the file as the request body with Content-Type {' or '.join(media_types)}")
    request.max_content_length = UPLOAD_BYTES
    data = request.get_data(cache=False)
    if not data:
        raise ApiError("empty-upload", "the request body is empty: send the file")
    return data


def _out_of_range(value, path: tuple) -> dict[str, str]:
    """The fields of a validated request whose numbers or dates are out of range, or whose text holds a NUL
    character (PostgreSQL's text cannot: refused for both engines alike), at any depth."""
    if isinstance(value, BaseModel):
        found: dict[str, str] = {}
        for name in type(value).model_fields:
            found |= _out_of_range(getattr(value, name), (*path, name))
        return found
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _out_of_range(item, (*path, i)).items()}
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _out_of_range(item, (*path, key)).items()}
    if isinstance(value, str) and "\x00" in value:
        return {".".join(map(str, path)): "must not contain a NUL character"}
    if isinstance(value, int) and not isinstance(value, bool) and not INT_RANGE[0] <= value <= INT_RANGE[1]:
        return {".".join(map(str, path)): "out of range: a 64-bit integer"}
    if isinstance(value, dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
            return {".".join(map(str, path)): f"out of range: from {DATE_RANGE[0]} to {DATE_RANGE[1]}"}
    return {}


def _validate(model: type[BaseModel], data: dict, where: str):
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        fields = {}
        for problem in exc.errors():
            path = ".".join(str(part) for part in problem["loc"]) or where
            fields[path] = _said(problem)
        raise invalid(fields) from None
    out_of_range = _out_of_range(validated, ())
    if out_of_range:
        raise invalid(out_of_range)
    return validated


def _said(problem: ErrorDetails) -> str:
    """A validation problem in words for the person who typed the value: our validators' own sentences as they
    are written (pydantic prefixes them with "Value error, "), "unknown field" for a field nobody asked for."""
    if problem["type"] == "extra_forbidden":
        return "unknown field"
    if problem["type"] == "value_error":  # not ctx["error"]: errors re-raised from a nested model have no ctx
        return problem["msg"].removeprefix("Value error, ")
    return problem["msg"]


def _dump(result):
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_dump(item) for item in result]
    return result


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: a whole number the database can hold. werkzeug's own converter passes any size
    through to the query (a 500); a larger one names nothing, so it is not found (404) whatever the method."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > INT_RANGE[1]:
            raise NotFound("no such object: the id is out of range")
        return number


def framework_error_id(exc: HTTPException) -> str:
    """The id werkzeug's own refusals answer with: their name (Method Not Allowed -> method-not-allowed); those
    the app meets are declared in leadcenter/errors.py."""
    return re.sub(r"[^a-z]+", "-", (exc.name or "error").lower()).strip("-")


def install(app: Flask) -> None:
    """JSON errors for everything under /api; a request id on every request for the logs; ids in routes bounded
    (before any route is added)."""
    app.url_map.converters["int"] = IdConverter

    @app.before_request
    def request_id():
        g.request_id = uuid.uuid4().hex[:16]

    def render(status: int, error: str, message: str, fields=None, headers=None):
        body = {"status": status, "error": error, "message": message, "fields": fields or {},
                "request_id": g.get("request_id")}
        response = jsonify(body)
        response.status_code = status
        response.headers.update(headers or {})
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return render(exc.status, exc.error, exc.message, exc.fields, exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # Every path, the app's files too; a 405 keeps its Allow header. A redirect stays one.
        if exc.code is not None and exc.code < 400:
            return exc
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return render(exc.code or 500, framework_error_id(exc), exc.description or exc.name, headers=headers)

    @app.errorhandler(IntegrityError)
    def conflict(exc: IntegrityError):
        # Checks run before writes (number taken, ...); two requests racing past the same check meet here.
        log.info("request %s %s: %s", request.method, request.path, exc)
        return api_error(ApiError("conflict", "this conflicts with data saved meanwhile; reload and try again"))

    @app.errorhandler(statemachine.Conflict)
    def moved_meanwhile(exc: statemachine.Conflict):
        # Two requests moved the same row at once (two agents pressing Respond): the other one won.
        log.info("request %s %s: %s", request.method, request.path, exc)
        return api_error(ApiError("conflict", f"{exc}; reload and try again"))

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError):
        # SQLite's write lock not had within its busy timeout: the server is overloaded, which the client can wait
        # out (a 503 it may retry), not a failure of ours. Any other database error is one.
        if "locked" not in str(exc) and "busy" not in str(exc):
            return unexpected(exc)
        log.warning("request %s %s: %s", request.method, request.path, exc)
        return api_error(ApiError("busy", "the server is busy: try again in a moment", headers={"Retry-After": "1"}))

    @app.errorhandler(cluster.ControllerUnavailable)
    def no_controller(exc: cluster.ControllerUnavailable):
        # A web node (cluster.py) with no controller node connected: nothing was asked of Asterisk.
        log.warning("request %s %s: %s", request.method, request.path, exc)
        return api_error(ApiError("controller-unavailable", str(exc)))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("request %s %s failed (request id %s)", request.method, request.path, g.get("request_id"))
        return api_error(ApiError("internal-error", "something went wrong on our side; the request id is in the log"))


def openapi(title: str, version: str) -> dict:
    """The OpenAPI 3.1 document of every declared endpoint."""
    models = {m for e in REGISTRY for m in (e.body, e.query, e.response) if m is not None}
    _, schema = models_json_schema([(m, "validation" if m in {e.body for e in REGISTRY} else "serialization")
                                    for m in sorted(models, key=lambda m: m.__name__)],
                                   ref_template="#/components/schemas/{model}")
    paths: dict[str, dict] = {}
    for e in REGISTRY:
        operation: dict[str, Any] = {
            "summary": e.summary, "tags": [e.tag], "operationId": f"{e.tag}.{e.method.lower()}.{e.path}",
            "responses": {str(e.status): {"description": "success"} if e.response is None else {
                "description": "success",
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{e.response.__name__}"}}}},
                "default": {"description": "error",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        }
        if e.status == 204:
            operation["responses"]["204"] = {"description": "done"}
        parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                      for p in e.path_params]
        if e.query is not None:
            for name, info in e.query.model_json_schema().get("properties", {}).items():
                parameters.append({"name": name, "in": "query",
                                   "required": name in e.query.model_json_schema().get("required", []),
                                   "schema": info})
        if parameters:
            operation["parameters"] = parameters
        if e.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{e.body.__name__}"}}}}
        if e.upload:
            operation["requestBody"] = {"required": True, "content": {
                media_type: {"schema": {"type": "string", "contentMediaType": media_type}} for media_type in e.upload}}
        if e.roles != "public":
            operation["security"] = [{"session": [], "csrf": []}, {"apiKey": []}]
            operation["x-minimum-role"] = e.roles
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    components = schema.get("$defs", {})
    components["Error"] = {
        "type": "object", "required": ["status", "error", "message"], "properties": {
            "status": {"type": "integer"},
            "error": {"type": "string", "enum": sorted(ERRORS),
                      "description": "a stable id to branch on; x-error-ids gives each one's status and meaning"},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            "request_id": {"type": "string"}},
        "x-error-ids": {error_id: {"status": status, "description": meaning}
                        for error_id, (status, meaning) in sorted(ERRORS.items())}}
    return {"openapi": "3.1.0", "info": {"title": title, "version": version}, "paths": paths,
            "components": {"schemas": components, "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
                "apiKey": {"type": "http", "scheme": "bearer"}}}}
