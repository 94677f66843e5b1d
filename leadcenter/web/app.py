"""The Flask application factory. The controller passes itself in; blueprints reach it as ``current_app.controller``."""
from __future__ import annotations

from flask import Flask, jsonify, send_from_directory

from leadcenter.resources import WEB


def create_app(controller) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.controller = controller
    app.config.update(SECRET_KEY=controller.secrets.session_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", JSON_SORT_KEYS=False)

    @app.get("/healthz")
    def healthz():
        """Database and Asterisk connectivity, as they are now: 200 when all answer, 503 otherwise."""
        health = controller.health()
        return jsonify(health), 200 if health["ok"] else 503

    @app.get("/")
    def index():
        return send_from_directory(WEB, "index.html")

    @app.get("/assets/<path:name>")
    def assets(name: str):
        return send_from_directory(WEB / "assets", name)

    return app
