"""/api/openapi.json is a valid OpenAPI 3.1 document and describes exactly the API the app serves."""

import re

from openapi_spec_validator import validate


def _served(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and not rule.websocket:
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_document_is_valid_openapi(client):
    status, document = client.get("/api/openapi.json")
    assert status == 200
    validate(document)


def test_document_matches_the_routes_the_app_serves(app, client):
    _, document = client.get("/api/openapi.json")
    documented = {(method.upper(), path) for path, operations in document["paths"].items() for method in operations}
    assert documented == _served(app)
    assert ("POST", "/api/v1/session") in documented


def test_every_request_body_refuses_unknown_fields(client):
    _, document = client.get("/api/openapi.json")
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                ref = content["application/json"]["schema"]["$ref"]
                body = schemas[ref.rsplit("/", 1)[1]]
                assert body.get("additionalProperties") is False, f"{method} {path}"


def test_file_uploads_are_documented_with_their_media_types(client):
    _, document = client.get("/api/openapi.json")
    content = document["paths"]["/api/v1/me/voicemail-greeting"]["put"]["requestBody"]["content"]
    assert "audio/wav" in content and "application/json" not in content
