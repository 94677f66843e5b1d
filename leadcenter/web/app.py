"""The Flask application factory. The controller passes itself in; views reach it as ``ports.controller()``."""
from __future__ import annotations

import datetime as dt

from flask import Flask, jsonify, send_from_directory

from leadcenter import __version__, catalogue
from leadcenter.resources import WEB
from leadcenter.web import api, auth, hardening, sip_relay, stream, visitors
from leadcenter.web.limits import Limits
from leadcenter.web.ports import Controller


def create_app(controller: Controller, limits: Limits | None = None) -> Flask:
    """``limits``: where the clients' rates and websockets are counted (limits.py); by default in this process."""
    app = Flask(__name__, static_folder=None)
    app.extensions["limits"] = limits = limits or Limits()
    app.extensions["controller"] = controller
    http = controller.settings.http
    app.config.update(
        SECRET_KEY=controller.secrets.session_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.extensions["sign_in_limiter"] = auth.AttemptLimiter()
    api.install(app)
    hardening.install(app, http.secure_cookies)
    for blueprint in _blueprints():
        app.register_blueprint(blueprint)
    # Event streams and softphone relays share the websocket limits.
    capacity = limits.capacity("agents", http.websockets_per_principal, http.websockets_per_company,
                               http.websockets_max)
    app.extensions["websockets"] = capacity
    stream.install(app, controller, capacity)
    sip_relay.install(app, controller, capacity)
    # Website visitors' chat sockets count apart: a flood of visitors never takes an agent's stream.
    app.extensions["visitor_sockets"] = visitor_capacity = limits.capacity(
        "visitors", http.visitor_sockets_per_address, http.visitor_sockets_per_company, http.visitor_sockets_max)
    visitors.install(app, controller, visitor_capacity)

    @app.get("/healthz")
    def healthz():
        """Database and Asterisk connectivity, as they are now: 200 when all answer, 503 otherwise."""
        health = controller.health()
        return jsonify(health), 200 if health["ok"] else 503

    @app.get("/api/openapi.json")
    def openapi():
        return jsonify(api.openapi("Lead Center API", __version__))

    @app.get("/api/events.json")
    def event_catalogue():
        """The events of /api/v1/events: each one's name, audience, meaning and the JSON schema of its data."""
        return jsonify(catalogue.document())

    @app.get("/")
    def index():
        return send_from_directory(WEB, "index.html")

    @app.get("/admin")
    def admin_console():
        """The admin console (web/js/admin): the same session as the agent app; it sends agents back to /."""
        return send_from_directory(WEB, "admin.html")

    @app.get("/password")
    def password_page():
        """A one-time link's page (/password#<token>: the token stays in the browser), or Forgot password."""
        return send_from_directory(WEB, "password.html")

    # The agent app: static files only (ES modules, CSS, and the JsSIP bundle `make setup` builds into vendor/); the
    # chat widget's iframe loads its own from widget/.
    for folder in ("assets", "js", "vendor", "widget"):
        app.add_url_rule(f"/{folder}/<path:name>", f"web_{folder}",
                         lambda name, folder=folder: send_from_directory(WEB / folder, name))

    return app


def _blueprints():
    from leadcenter.accounts import http as accounts
    from leadcenter.agents import http as agents
    from leadcenter.audit import http as audit
    from leadcenter.calls import http as calls
    from leadcenter.chats import http as chats
    from leadcenter.dialplans import http as dialplans
    from leadcenter.flows import http as flows
    from leadcenter.interactions import http as interactions
    from leadcenter.leads import http as leads
    from leadcenter.monitors import http as monitors
    from leadcenter.prompts import http as prompts
    from leadcenter.reports import http as reports
    from leadcenter.teams import http as teams
    from leadcenter.teamview import http as teamview
    from leadcenter.texts import http as texts
    from leadcenter.tracking_numbers import http as tracking_numbers
    from leadcenter.trunks import http as trunks
    from leadcenter.visits import http as visits
    from leadcenter.voicemail import http as voicemail
    from leadcenter.web import session
    return [session.bp, accounts.bp, agents.bp, teams.bp, flows.bp, trunks.bp, tracking_numbers.bp, leads.bp,
            interactions.bp, calls.bp, prompts.bp, texts.bp, chats.bp, chats.public, visits.bp, visits.public, audit.bp,
            dialplans.bp, reports.bp, monitors.bp, teamview.bp, voicemail.bp]
