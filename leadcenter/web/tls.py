"""The HTTPS listener's certificate.

Why HTTPS: browsers give the microphone only to secure origins (https://, or http://127.0.0.1 on the agent's own
machine), so agents on other machines need HTTPS, and the softphone then needs wss://: the app's /sip relay
gives it that on the same origin and certificate. The listener is a bind of the one web server (server.py).

The certificate: ``http.certificate`` and ``http.private_key`` (PEM), or, when both are empty, a self-signed one
generated at first run with openssl into <data_dir>/tls/ for localhost, 127.0.0.1, this machine's name and
``http.https_host``.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import subprocess
from pathlib import Path

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
