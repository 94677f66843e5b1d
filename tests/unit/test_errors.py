"""One error catalogue (leadcenter/errors.py): every error id the code raises is declared there with its one status,
every declared id is raised somewhere, and integrators find them all in the OpenAPI document."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from peewee import OperationalError
from werkzeug.exceptions import default_exceptions

import leadcenter
from leadcenter.errors import ERRORS, FRAMEWORK_ERRORS, ApiError
from leadcenter.web.api import framework_error_id

ROOT = Path(leadcenter.__file__).parent


def _trees():
    for path in sorted(ROOT.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text())


def _refusals() -> set[str]:
    """ApiError and the classes derived from it (TextRefused, ...), by name."""
    names = {"ApiError"}
    for _, tree in _trees():
        names |= {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(isinstance(base, ast.Name) and base.id in names for base in node.bases)
        }
    return names


def _raised() -> tuple[dict[str, list[str]], list[str]]:
    """Every id an ApiError is made with, and where; the places that make one with an id that is no literal."""
    refusals, raised, unreadable = _refusals(), {}, []
    for name, tree in _trees():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in refusals):
                continue
            first = node.args[0] if node.args else None
            # A literal, or one of two (``"not-incoming" if ... else "not-active"``).
            choices = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            if all(isinstance(c, ast.Constant) and isinstance(c.value, str) for c in choices):
                for choice in choices:
                    raised.setdefault(choice.value, []).append(f"{name}:{node.lineno}")
            else:
                unreadable.append(f"{name}:{node.lineno}")
    return raised, unreadable


def test_every_error_raised_is_declared_with_a_literal_id():
    raised, unreadable = _raised()
    assert unreadable == [], "name the error id as a literal, so that it can be checked here"
    assert {error_id: where for error_id, where in raised.items() if error_id not in ERRORS} == {}


def test_every_declared_error_is_raised_somewhere():
    raised, _ = _raised()
    assert set(ERRORS) - set(raised) - FRAMEWORK_ERRORS == set()


@pytest.mark.parametrize("error_id", sorted(FRAMEWORK_ERRORS))
def test_the_frameworks_refusals_are_declared_with_werkzeugs_status(error_id):
    status = ERRORS[error_id][0]
    assert framework_error_id(default_exceptions[status]()) == error_id


def test_an_error_takes_its_one_status_from_the_catalogue():
    """not-an-agent was a 409 in five places and a 404 in one: an id now has the catalogue's status, whoever raises
    it, and an id the catalogue does not declare cannot be raised."""
    assert ApiError("not-an-agent", "x").status == ERRORS["not-an-agent"][0] == 409
    with pytest.raises(ValueError, match="undeclared"):
        ApiError("no-such-error", "x")


def test_the_openapi_document_lists_every_error_with_its_status(client):
    _, document = client.get("/api/openapi.json")
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["enum"] == sorted(ERRORS)
    assert {
        error_id: (entry["status"], entry["description"]) for error_id, entry in error["x-error-ids"].items()
    } == ERRORS


@pytest.mark.parametrize(
    "raised, status, error",
    [
        (OperationalError("database is locked"), 503, "busy"),
        (OperationalError("no such table: lead"), 500, "internal-error"),
    ],
)
def test_a_database_too_busy_to_write_is_a_503_to_retry_not_a_500(client, world, monkeypatch, raised, status, error):
    """SQLite's write lock not had within its busy timeout (an overloaded server) is something the client can wait out;
    any other database error is a failure of ours."""
    from leadcenter.interactions import http

    def fails(*args, **kwargs):
        raise raised

    monkeypatch.setattr(http.services, "inbox", fails)
    client.sign_in("agent1@a.example")
    response = client.http.get("/api/v1/inbox")
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    assert (response.headers.get("Retry-After") == "1") is (status == 503)
