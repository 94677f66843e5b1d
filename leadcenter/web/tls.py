"""The HTTPS listener's certificate.

Why HTTPS: browsers give the microphone only to secure origins (https://, or http://127.0.0.1 on the agent's own
machine), so agents on other machines need HTTPS, and the softphone then needs wss://: the app's /sip relay
gives it that on the same origin and certificate. The listener is a bind of the one web server (server.py).

The certificate: ``http.certificate`` and ``http.private_key`` (PEM), or, when both are empty, a self-signed one
generated at first run with openssl into <data_dir>/tls/ for localhost, 127.0.0.1, this machine's name and
``http.https_host`` (leadcenter/certificates.py).
"""

from __future__ import annotations

from pathlib import Path

from leadcenter.certificates import configured_or_generated
from leadcenter.config import Settings


def certificate_files(settings: Settings) -> tuple[Path, Path]:
    """The certificate and key to serve, generating the self-signed pair when none is configured."""
    http = settings.http
    return configured_or_generated(
        http.certificate,
        http.private_key,
        "http.certificate and http.private_key",
        settings.data_dir / "tls",
        "self-signed",
        http.https_host,
    )
