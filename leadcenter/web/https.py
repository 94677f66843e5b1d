"""HTTPS beside the plain HTTP listener: the same app, in the same process, over TLS.

Why: browsers give the microphone only to secure origins (https://, or http://127.0.0.1 on the agent's own
machine), so agents on other machines need HTTPS, and the softphone then needs wss://: the app's /sip relay
gives it that on the same origin and certificate.

How: gunicorn applies TLS to all of its listeners or none, and the loopback listener stays plain HTTP; so the
HTTPS listener is werkzeug's threaded WSGI server, started in gunicorn's worker next to the controller and serving
the same Flask app (one event hub, one controller). Each connection has a thread of its own; requests and
websockets behave as on the HTTP listener, with ``wss``/``https`` as their scheme for the Origin check.

The certificate: ``http.certificate`` and ``http.private_key`` (PEM), or, when both are empty, a self-signed one
generated at first run with openssl into <data_dir>/tls/ for localhost, 127.0.0.1, this machine's name and
``http.https_host``.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import subprocess
import threading
from pathlib import Path

from werkzeug.serving import make_server

from leadcenter.config import ConfigError, Settings

log = logging.getLogger(__name__)

SELF_SIGNED_DAYS = 825  # the longest validity browsers accept for a server certificate


def certificate_files(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key to serve, generating the self-signed pair when none is configured."""
    http = settings.http
    if http.certificate or http.private_key:
        if not (http.certificate and http.private_key):
            raise ConfigError("http.certificate and http.private_key go together: set both or neither")
        return Path(http.certificate), Path(http.private_key)
    folder = settings.data_dir / "tls"
    certificate, key = folder / "self-signed.crt", folder / "self-signed.key"
    if not (certificate.exists() and key.exists()):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        names = _names(http.https_host)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", str(SELF_SIGNED_DAYS), "-subj", "/CN=Lead Center",
                        "-addext", "subjectAltName=" + ",".join(names), "-keyout", str(key), "-out", str(certificate)],
                       check=True, capture_output=True, timeout=30)
        key.chmod(0o600)
        log.info("generated a self-signed certificate for %s in %s", ", ".join(names), folder)
    return certificate, key


def _names(https_host: str) -> list[str]:
    names = ["DNS:localhost", "IP:127.0.0.1", f"DNS:{socket.gethostname()}"]
    if https_host not in ("", "0.0.0.0", "::", "127.0.0.1"):
        try:
            names.append(f"IP:{ipaddress.ip_address(https_host)}")
        except ValueError:
            names.append(f"DNS:{https_host}")
    return names


class HttpsListener:
    def __init__(self, settings: Settings, app):
        certificate, key = certificate_files(settings)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificate, key)
        http = settings.http
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log, as on the HTTP listener
        self.server = make_server(http.https_host, http.https_port, app, threaded=True, ssl_context=context)
        self.server.daemon_threads = True  # a websocket left open never holds up shutdown
        self._thread = threading.Thread(target=self.server.serve_forever, name="https", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("HTTPS on %s:%s", *self.server.server_address[:2])

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(5)
