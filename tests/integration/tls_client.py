"""A TLS client that offers one protocol version: which versions a SIP over TLS listener takes."""

from __future__ import annotations

import socket
import ssl


def handshake(port: int, version: ssl.TLSVersion, certificate: str, host: str = "127.0.0.1") -> str | None:
    """The TLS version negotiated when a client offering only ``version`` connects to ``host``:``port``, trusting
    ``certificate``; None when refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = context.maximum_version = version
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.0 and 1.1 client-side otherwise
    context.load_verify_locations(certificate)
    try:
        with (
            socket.create_connection((host, port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            return tls.version()
    except (ssl.SSLError, ConnectionError):
        return None
