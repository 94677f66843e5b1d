"""Certificates of the TLS listeners: the configured PEM files, or a self-signed pair generated once.

HTTPS (web/tls.py) and SIP over TLS (asterisk_config) each have a certificate and key setting; both empty means a
self-signed certificate generated at first run with openssl into <data_dir>/tls/, for localhost, 127.0.0.1, this
machine's name and the listener's own address. Clients warn about it (or refuse it) until they are told to trust it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import subprocess
from pathlib import Path

from leadcenter.config import ConfigError

log = logging.getLogger(__name__)

SYSTEM_AUTHORITIES = "/etc/ssl/certs/ca-certificates.crt"  # Debian's ca-certificates bundle
SELF_SIGNED_DAYS = 825  # the longest validity browsers accept for a server certificate


def configured_or_generated(
    certificate: str, private_key: str, setting_names: str, folder: Path, stem: str, *hosts: str
) -> tuple[Path, Path]:
    """The configured certificate and key (``setting_names`` names the two settings in the error when only one is
    set), or ``folder``/``stem``.crt and .key, generated self-signed for ``hosts`` when they do not exist yet."""
    if certificate or private_key:
        if not (certificate and private_key):
            raise ConfigError(f"{setting_names} go together: set both or neither")
        return Path(certificate), Path(private_key)
    generated, key = folder / f"{stem}.crt", folder / f"{stem}.key"
    if not (generated.exists() and key.exists()):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        names = subject_names(*hosts)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", str(SELF_SIGNED_DAYS), "-subj", "/CN=Lead Center",
                        "-addext", "subjectAltName=" + ",".join(names), "-keyout", str(key), "-out", str(generated)],
                       check=True, capture_output=True, timeout=30)  # fmt: skip
        key.chmod(0o600)
        log.info("generated a self-signed certificate for %s in %s", ", ".join(names), generated)
    return generated, key


def subject_names(*hosts: str) -> list[str]:
    """The names a generated certificate is good for: this machine, and each of ``hosts`` that names one address."""
    names = ["DNS:localhost", "IP:127.0.0.1", f"DNS:{socket.gethostname()}"]
    for host in hosts:
        if host in ("", "0.0.0.0", "::", "127.0.0.1"):
            continue
        try:
            name = f"IP:{ipaddress.ip_address(host.strip('[]'))}"
        except ValueError:
            name = f"DNS:{host}"
        if name not in names:
            names.append(name)
    return names
