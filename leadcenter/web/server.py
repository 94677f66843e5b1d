"""Serving the app with gunicorn's threaded worker (flask-sock websockets each hold one thread).

One worker process: it owns the controller (telephony loop, dispatcher) built after the fork, and the HTTPS
listener (https.py) when ``http.https_port`` is set.
"""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from leadcenter.config import Settings


class LeadCenterServer(BaseApplication):
    def __init__(self, settings: Settings):
        self.settings = settings
        self.controller = None
        self.https = None
        super().__init__()

    def load_config(self) -> None:
        http = self.settings.http
        for key, value in {
            "bind": [f"{http.host}:{http.port}"],
            "workers": 1,
            "worker_class": "gthread",
            "threads": http.threads,
            "graceful_timeout": 5,
            "timeout": 60,
            "accesslog": None,
            "control_socket_disable": True,
            "worker_exit": self._worker_exit,
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from leadcenter.controller import Controller
        self.controller = Controller(self.settings)
        self.controller.start()
        if self.settings.http.https_port:
            from leadcenter.web.https import HttpsListener
            self.https = HttpsListener(self.settings, self.controller.web)
            self.https.start()
        return self.controller.web

    def _worker_exit(self, server, worker) -> None:
        if self.https is not None:
            self.https.stop()
        if self.controller is not None:
            self.controller.stop()


def serve(settings: Settings) -> None:
    """Run until Ctrl-C or SIGTERM."""
    try:
        LeadCenterServer(settings).run()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
