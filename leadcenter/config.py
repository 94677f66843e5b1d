"""Settings: documented defaults, overridden by a TOML file, overridden by environment variables.

Every key has an environment variable named ``LEADCENTER_<SECTION>_<KEY>`` (upper case), e.g.
``LEADCENTER_HTTP_PORT=8081``. The file is ``$LEADCENTER_CONFIG`` or ``<data_dir>/leadcenter.toml``.
Secrets are not settings: they are generated at first run into ``<data_dir>/secrets.toml`` (see ``secrets``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PathsSettings:
    # Everything the installation writes: database, rendered Asterisk config, spool, recordings, logs.
    data_dir: str = "var"
    # The Debian sid root Asterisk runs in; built once per machine by `leadcenter asterisk provision`.
    asterisk_root: str = "/var/cache/leadcenter/asterisk-root"


@dataclass(frozen=True)
class DatabaseSettings:
    # Empty: SQLite, the file <data_dir>/leadcenter.sqlite3 (the embedded default). A PostgreSQL URL
    # (postgresql://user:password@host:5432/leadcenter, or postgresql:///leadcenter?host=/var/run/postgresql for a
    # unix socket) makes that database the installation's: `leadcenter db copy` fills it from the SQLite file.
    # It holds a password: set it in leadcenter.toml (not in the repository) or LEADCENTER_DATABASE_URL.
    url: str = ""


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    # Threads that run API requests (the Flask app). Websockets (event streams, softphone relays) hold none: they
    # run on the server's event loop.
    request_threads: int = 32
    # A connection must deliver a whole request head (request line and headers) this long after it opens or after
    # its previous response; slower clients are disconnected (slowloris). Also how long an idle connection is kept.
    header_timeout_seconds: int = 10
    # The longest silence while a request body or a websocket is open (websockets are pinged every 20 s, so a live
    # client always answers in time: a vanished one is dropped after this).
    read_timeout_seconds: int = 45
    # A request body must arrive within this, plus a second for every 32 KiB received (a slow uplink's large upload).
    body_timeout_seconds: int = 30
    # Long-lived websockets (event streams and softphone relays together): per principal (a user, all their
    # sessions, or an API key), per company, and for the whole server. When the server is full, a company below
    # its fair share still gets in (see web/capacity.py).
    websockets_per_principal: int = 8
    websockets_per_company: int = 500
    websockets_max: int = 2000
    # Website visitors' chat websockets (web/visitors.py), counted apart from the agents' so that a flood of
    # visitors never takes an agent's stream: per client address, per company, and for the whole server.
    visitor_sockets_per_address: int = 20
    visitor_sockets_per_company: int = 1000
    visitor_sockets_max: int = 4000
    # The snippet's visit collection (POST /s/<key>/collect, visits/http.py): requests a minute per client address
    # and per company, counted apart, so that one site's traffic never takes another's.
    collect_per_address_per_minute: int = 120
    collect_per_company_per_minute: int = 30000
    # The site's forms sent by the snippet (POST /s/<key>/form): each one is a form in the agents' Incoming.
    forms_per_address_per_minute: int = 10
    forms_per_company_per_minute: int = 600
    # Mark the plain HTTP listener's session cookie Secure too (the HTTPS listener's always is): for a plain
    # listener that sits behind a TLS-terminating proxy.
    secure_cookies: bool = False
    # Origins (scheme://host:port) besides the app's own that may open the event websocket.
    allowed_origins: str = ""
    # Reverse proxies in front of Lead Center: addresses or networks, comma-separated ("127.0.0.1, 10.0.0.0/8").
    # A request from one of them counts (per-address limits, the sign-in throttle, logs) for the client address it
    # names in X-Forwarded-For; any other peer's X-Forwarded-For is ignored (a client can write anything there).
    trusted_proxies: str = ""
    # HTTPS, for agents on other machines: browsers allow the microphone only on secure origins. The same app and
    # the softphone's SIP websocket (wss://.../sip), on one origin. 0 turns it off; 0.0.0.0 serves the LAN.
    https_host: str = "127.0.0.1"
    https_port: int = 8443
    # PEM files of the certificate (chain) and its key; both empty: a self-signed certificate generated at first
    # run into <data_dir>/tls/ (browsers warn about it until it is trusted).
    certificate: str = ""
    private_key: str = ""

    def proxy_networks(self) -> tuple[IPNetwork, ...]:
        """``trusted_proxies`` parsed; ValueError names the entry that is no address or network."""
        entries = [entry.strip() for entry in self.trusted_proxies.split(",")]
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries if entry)


@dataclass(frozen=True)
class AsteriskSettings:
    # Where the controller reaches Asterisk's AMI and HTTP server (ARI, and SIP over WebSocket at /ws).
    host: str = "127.0.0.1"
    # Where Asterisk's AMI and HTTP server listen: loopback unless configured (docker-compose sets 0.0.0.0).
    bind_host: str = "127.0.0.1"
    ami_port: int = 5038
    http_port: int = 8088
    # Who may log in to AMI (Asterisk's permit syntax): the controller's address.
    ami_permit: str = "127.0.0.1/255.255.255.255"
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    # SIP over TLS for desk phones (TLS 1.2 and later only), on sip_host like UDP and TCP; 0 turns it off. A phone
    # that registers over it is called over it; it may ask for SRTP (SDES keys, sent inside the TLS connection).
    sip_tls_port: int = 5061
    # PEM files of the certificate (chain) and key SIP over TLS shows phones; both empty: a self-signed one
    # generated at first run into <data_dir>/tls/ for localhost, 127.0.0.1, this machine's name and sip_host (load
    # it into the phones as trusted). Asterisk reads a copy in its instance directory: restart it after a change.
    sip_certificate: str = ""
    sip_private_key: str = ""
    # A PEM file of the certificate authorities a trunk over TLS must be vouched for by (its carrier's certificate,
    # which must also name the trunk's address); empty: the system's (Debian's ca-certificates bundle).
    trunk_authorities: str = ""
    # SRTP on desk phones' calls. optional: a phone that asks gets it, others plain RTP (Asterisk offers SDES keys in
    # RTP/AVP, which a phone set to require SRTP refuses: choose required for those). required: every desk phone
    # call is SRTP (Asterisk offers RTP/SAVP and refuses a phone's plain RTP with 488).
    desk_srtp: str = "optional"
    rtp_start: int = 10000
    rtp_end: int = 10999
    # The address Asterisk puts in SDP; the SIP host by default.
    media_address: str = ""
    # Extra ICE host candidates, "local=>advertised" pairs separated by commas (see rtp.conf).
    ice_host_candidates: str = ""
    # How often Asterisk asks each registered desk phone whether it is still there (SIP OPTIONS): one that stops
    # answering is unreachable, not rung and not counted as available, within this many seconds + 3.
    qualify_seconds: int = 30
    # Run Asterisk as this user inside the root (created by the asterisk package).
    run_as: str = "asterisk"
    # true when something else runs Asterisk (the docker-compose asterisk service): `leadcenter run` then
    # neither starts nor stops it and only writes its configuration into the shared volume.
    external: bool = False


@dataclass(frozen=True)
class DemoSettings:
    # The trunk the demo's tracking numbers arrive on: a SIP peer identified by its address and port.
    trunk_host: str = "127.0.0.1"
    trunk_port: int = 5070
    # `leadcenter run --demo` serves the demo company's website here (its own origin, with the chat snippet); port
    # 0: no demo website.
    site_host: str = "127.0.0.1"
    site_port: int = 8090


@dataclass(frozen=True)
class SmppSettings:
    # The SMSC texts go through (bind_transceiver). Texting is off while host is empty. Further SMSCs, each with
    # these keys, go in [[smpp_extra]] tables of the config file (environment variables set [smpp] only).
    host: str = ""
    # Names the bind in /healthz, the CLI and the logs; each SMSC's own.
    name: str = "smsc"
    port: int = 2775
    system_id: str = ""
    # A secret: set it in leadcenter.toml (not in the repository) or LEADCENTER_SMPP_PASSWORD.
    password: str = ""
    system_type: str = ""
    # Type of number / numbering plan of the addresses we send: 1/1 is international E.164 (without the '+').
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    # The tracking numbers (E.164, comma separated) this SMSC sends for; empty: every tracking number no other
    # SMSC names.
    numbers: str = ""
    # submit_sm outstanding at once on the bind (matched to their responses by sequence number).
    window: int = 50
    # enquire_link every this many idle seconds; no answer to anything within response_timeout -> reconnect.
    enquire_link_seconds: int = 30
    response_timeout_seconds: int = 10
    # Reconnect after 1 s, then doubling up to this.
    reconnect_max_seconds: int = 30


@dataclass(frozen=True)
class TextsSettings:
    # An inbound text nobody responds to moves from Incoming to Recent (timed out) after this.
    incoming_timeout_hours: int = 12
    # An Active conversation nobody writes in (either way) moves to Recent after this; 0: only Close text does.
    active_idle_hours: int = 24
    # Tests only: shifts the texts clock forward, so a 12-hour timer can fire without a 12-hour wait.
    clock_offset_seconds: int = 0


SMTP_SECURITY = ("none", "starttls", "tls")
DESK_SRTP = ("optional", "required")


@dataclass(frozen=True)
class SmtpSettings:
    # The mail server the agents' email notifications (new and missed chats) go through. Email is off while host is
    # empty: the agents' profile then says so beside the email choices.
    host: str = ""
    # 587 for starttls (submission), 465 for tls, 25 for none.
    port: int = 587
    # none: plain SMTP (only to a relay on this machine or a trusted network); starttls: upgrade the connection
    # before logging in; tls: TLS from the start (SMTPS). The server's certificate is checked against the system's
    # certificate authorities either way.
    security: str = "starttls"
    # A PEM file of the certificate authorities to trust for the server's certificate instead of the system's (a
    # mail server with a private CA); empty: the system's.
    ca_file: str = ""
    # Log in with these when username is set (only over starttls or tls: a password never crosses the network in
    # the clear). The password is a secret: set it in leadcenter.toml (not in the repository) or
    # LEADCENTER_SMTP_PASSWORD.
    username: str = ""
    password: str = ""
    # The sender of every email, e.g. "Lead Center <leads@example.com>"; required with a host.
    from_address: str = ""
    # Seconds to wait for the server at each step (connect, each command) before trying again later.
    timeout_seconds: int = 10
    # The app's address as agents reach it, for the link in each email; empty: the HTTPS listener's address.
    app_url: str = ""


@dataclass(frozen=True)
class TurnSettings:
    # TURN relays for agents whose browsers cannot reach Asterisk's media directly (at home, behind a NAT or a
    # firewall that lets no UDP out). Off while urls is empty: browsers then use Asterisk's host candidates only
    # (agents on the server's LAN). Comma-separated, as browsers are told, e.g.
    # "turn:turn.example.com:3478?transport=udp, turn:turn.example.com:443?transport=tcp, turns:turn.example.com:443".
    urls: str = ""
    # The secret coturn and Lead Center share (coturn's use-auth-secret): each agent gets a credential made with it
    # that expires. Empty: the one generated at first run into <data_dir>/secrets.toml (turn_secret). A secret: set
    # it in leadcenter.toml (not in the repository) or LEADCENTER_TURN_SECRET, e.g. when coturn runs elsewhere.
    secret: str = ""
    realm: str = "leadcenter"
    # How long an agent's TURN credential is good for; the app fetches a new one halfway through. A call under way
    # keeps its relay when its credential expires (coturn checks it when the relay is allocated).
    credential_seconds: int = 3600
    # Browsers relay every call through TURN (ICE transport policy "relay"), even when a direct path exists.
    relay_only: bool = False
    # `leadcenter run` also runs coturn (Debian's turnserver) with a configuration rendered from these settings.
    serve: bool = False
    # Where the coturn Lead Center runs listens: an address ("" every one), TURN over UDP and TCP on port, over TLS
    # on tls_port (0: none; the HTTPS listener's certificate), relayed media on relay_port_start..relay_port_end.
    listen_host: str = ""
    port: int = 3478
    tls_port: int = 0
    relay_port_start: int = 49152
    relay_port_end: int = 65535
    # The only addresses the relay forwards media to (comma-separated): Asterisk's. Empty: [asterisk] media_address
    # (or sip_host), the addresses ice_host_candidates advertises and, behind Kamailio, every node's host in
    # [kamailio] nodes (a node's media on its SIP address; list them here when not). Every other address is denied,
    # so the relay cannot be used to reach the server's network.
    peers: str = ""
    # Who coturn runs as once its ports are open (the Debian package's user).
    run_as: str = "turnserver"

    @property
    def enabled(self) -> bool:
        return bool(self.url_list)

    @property
    def url_list(self) -> tuple[str, ...]:
        return tuple(url.strip() for url in self.urls.split(",") if url.strip())


@dataclass(frozen=True)
class KamailioSettings:
    # Kamailio as the SIP edge in front of the Asterisk nodes (carriers and desk phones talk to it; docs/deployment.md,
    # "N Asterisk behind Kamailio"). Off: carriers and phones talk to the one Asterisk ([asterisk] sip_host).
    enabled: bool = False
    # Where Kamailio takes SIP over UDP and TCP: loopback unless configured. Not Asterisk's own sip_host:sip_port.
    listen_host: str = "127.0.0.1"
    port: int = 5060
    # SIP over TLS for desk phones at the edge (TLS 1.2 and later) on listen_host, usually 5061; 0: off (the default:
    # on one box Asterisk's own SIP over TLS has 5061). Its certificate and key are [asterisk] sip_certificate and
    # sip_private_key (or the self-signed pair generated for them).
    tls_port: int = 0
    # The Asterisk nodes, comma-separated name=host:port in order ("a=10.0.0.11:5060, b=10.0.0.12:5060"). Each
    # node's standby is the next one (the first after the last). Empty: this installation's own Asterisk.
    # name=host:port/ami_port/http_port also names where the node's AMI and HTTP server (ARI) answer, on the same
    # host: the controller then drives every node (each its own AMI and ARI links), the installation's own Asterisk
    # (the node at [asterisk] sip_host:sip_port) through [asterisk] host, ami_port and http_port. Without any: the
    # controller drives the installation's own Asterisk only, as without Kamailio.
    nodes: str = ""
    # Each company's home node, comma-separated company_id=node ("1=a, 2=b"); a company not listed: the first node.
    homes: str = ""
    # Kamailio asks every node OPTIONS this often; after probe_threshold unanswered ones its calls go to its
    # standby (and come back at its first answer). A call a node does not answer within invite_timeout_ms is tried
    # on the standby at once.
    probe_seconds: int = 2
    probe_threshold: int = 2
    invite_timeout_ms: int = 2000
    # Flood protection (pike): more than pike_requests requests from one address within pike_seconds, and the
    # address is banned for ban_seconds (as are known scanners, and addresses fail2ban bans over Kamailio's RPC).
    pike_seconds: int = 2
    pike_requests: int = 30
    ban_seconds: int = 300
    # Kamailio's processes per transport, and its shared memory (MB).
    children: int = 4
    memory_mb: int = 64


@dataclass(frozen=True)
class Settings:
    paths: PathsSettings = field(default_factory=PathsSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    smpp: SmppSettings = field(default_factory=SmppSettings)
    smpp_extra: tuple[SmppSettings, ...] = ()
    texts: TextsSettings = field(default_factory=TextsSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    turn: TurnSettings = field(default_factory=TurnSettings)
    kamailio: KamailioSettings = field(default_factory=KamailioSettings)

    @property
    def smscs(self) -> tuple[SmppSettings, ...]:
        """Every configured SMSC (those with a host)."""
        return tuple(s for s in (self.smpp, *self.smpp_extra) if s.host)

    @property
    def app_url(self) -> str:
        """The app's address as agents reach it, for links in emails: [smtp] app_url, else the HTTPS listener's
        (the plain one's when HTTPS is off; this machine's name when it listens on every address)."""
        if self.smtp.app_url:
            return self.smtp.app_url
        scheme, host, port = (
            ("https", self.http.https_host, self.http.https_port)
            if self.http.https_port
            else ("http", self.http.host, self.http.port)
        )
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}/"

    @property
    def data_dir(self) -> Path:
        return Path(self.paths.data_dir).resolve()

    @property
    def database_path(self) -> Path:
        """The SQLite file: the installation's database unless [database] url names a PostgreSQL one."""
        return self.data_dir / "leadcenter.sqlite3"

    @property
    def database_name(self) -> str:
        """The installation's database, for messages: the SQLite file, or the PostgreSQL URL without its password."""
        if not self.database.url:
            return str(self.database_path)
        return re.sub(r"(://[^:/@]*):[^@]*@", r"\1@", self.database.url)

    @property
    def asterisk_dir(self) -> Path:
        """The instance directory: mounted at ASTERISK_MOUNT inside the Asterisk root."""
        return self.data_dir / "asterisk"

    @property
    def asterisk_root(self) -> Path:
        return Path(self.paths.asterisk_root)


class ConfigError(ValueError):
    pass


def _coerce(value: str, kind: type, name: str):
    if kind is int:
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if kind is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value


def environment_name(section: str, key: str) -> str:
    return f"LEADCENTER_{section}_{key}".upper()


def environment_names() -> set[str]:
    """The environment variable of every setting (the extra SMSCs have none: they are set in the file)."""
    return {
        environment_name(section.name, key.name)
        for section in dataclasses.fields(Settings)
        if section.name != EXTRA_SMSCS
        for key in dataclasses.fields(section.default_factory)  # type: ignore[arg-type]  # the section's class
    }


def _section(cls, overrides: dict, env: dict, section: str):
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(overrides) - set(known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in [{section}]: {', '.join(sorted(unknown))}")
    values = {}
    for name, f in known.items():
        kind = type(f.default)
        env_name = environment_name(section, name)
        if env_name in env:
            values[name] = _coerce(env[env_name], kind, env_name)
        elif name in overrides:
            value = overrides[name]
            if not isinstance(value, kind):
                raise ConfigError(f"[{section}] {name} must be {kind.__name__}, not {value!r}")
            values[name] = value
    return cls(**values)


def load(path: str | os.PathLike | None = None, env: dict | None = None) -> Settings:
    """Read settings: defaults < file < environment."""
    env = dict(os.environ if env is None else env)
    path = path or env.get("LEADCENTER_CONFIG")
    if path is None:
        data_dir = env.get("LEADCENTER_PATHS_DATA_DIR", PathsSettings.data_dir)
        candidate = Path(data_dir) / "leadcenter.toml"
        path = candidate if candidate.exists() else None
    file_values: dict = {}
    if path is not None:
        try:
            file_values = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
    sections = {f.name: f.default_factory for f in dataclasses.fields(Settings) if f.name != EXTRA_SMSCS}
    unknown = set(file_values) - set(sections) - {EXTRA_SMSCS}
    if unknown:
        raise ConfigError(f"unknown section(s) in {path}: {', '.join(sorted(unknown))}")
    settings = Settings(
        **{name: _section(factory, file_values.get(name, {}), env, name) for name, factory in sections.items()},
        smpp_extra=_extra_smscs(file_values.get(EXTRA_SMSCS, [])),
    )
    try:
        settings.http.proxy_networks()
    except ValueError as exc:
        raise ConfigError(f"[http] trusted_proxies: {exc}") from None
    names = [s.name for s in settings.smscs]
    if len(set(names)) != len(names):
        raise ConfigError(f"each SMSC needs a name of its own ([smpp] and [[smpp_extra]]): {', '.join(names)}")
    _check_smtp(settings.smtp)
    if settings.database.url and not settings.database.url.startswith(POSTGRESQL_SCHEMES):
        raise ConfigError("[database] url must be empty (SQLite) or a PostgreSQL URL: postgresql://...")
    _check_turn(settings)
    _check_kamailio(settings)
    asterisk = settings.asterisk
    if bool(asterisk.sip_certificate) != bool(asterisk.sip_private_key):
        raise ConfigError("[asterisk] sip_certificate and sip_private_key go together: set both or neither")
    if asterisk.trunk_authorities and not Path(asterisk.trunk_authorities).is_file():
        raise ConfigError(f"[asterisk] trunk_authorities: no file {asterisk.trunk_authorities}")
    if asterisk.desk_srtp not in DESK_SRTP:
        raise ConfigError(f"[asterisk] desk_srtp must be one of {', '.join(DESK_SRTP)}, not {asterisk.desk_srtp!r}")
    return settings


POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


def _check_smtp(smtp: SmtpSettings) -> None:
    if smtp.security not in SMTP_SECURITY:
        raise ConfigError(f"[smtp] security must be one of {', '.join(SMTP_SECURITY)}, not {smtp.security!r}")
    if smtp.host and not smtp.from_address:
        raise ConfigError("[smtp] from_address is required with a host: the sender of the notification emails")
    if smtp.username and smtp.security == "none":
        raise ConfigError("[smtp] a username needs security starttls or tls: the password would cross in the clear")


def _check_turn(settings: Settings) -> None:
    turn = settings.turn
    bad = [url for url in turn.url_list if not url.startswith(("turn:", "turns:", "stun:"))]
    if bad:
        raise ConfigError(f"[turn] urls must start with turn:, turns: or stun:, not {', '.join(bad)}")
    if turn.credential_seconds < 60:
        raise ConfigError("[turn] credential_seconds must be at least 60")
    if not 0 < turn.relay_port_start <= turn.relay_port_end <= 65535:
        raise ConfigError("[turn] relay_port_start..relay_port_end must be a range of ports")
    if turn.serve:
        try:
            turn_peers(settings)
        except ValueError as exc:
            raise ConfigError(f"[turn] peers: {exc}") from None


def _check_kamailio(settings: Settings) -> None:
    kamailio = settings.kamailio
    if not kamailio.enabled:
        return
    try:
        nodes = kamailio_nodes(settings)
        homes = kamailio_homes(settings)
    except ValueError as exc:
        raise ConfigError(f"[kamailio] {exc}") from None
    names = [node.name for node in nodes]
    if len(set(names)) != len(names):
        raise ConfigError(f"[kamailio] nodes: each node needs a name of its own: {', '.join(names)}")
    unknown = sorted(set(homes.values()) - set(names))
    if unknown:
        raise ConfigError(f"[kamailio] homes name no node called {', '.join(unknown)}")
    if kamailio.listen_host.strip("[]") in ("0.0.0.0", "::", ""):
        # The nodes reach the desk phones registered at Kamailio at this address (their contact): one they can dial.
        raise ConfigError(
            f"[kamailio] listen_host must be an address the Asterisk nodes reach, not {kamailio.listen_host}"
        )
    if any((node.host, node.port) == (kamailio.listen_host, kamailio.port) for node in nodes):
        raise ConfigError("[kamailio] listens where an Asterisk node does: give it another port or address")
    if kamailio.tls_port and kamailio.tls_port == kamailio.port:
        raise ConfigError(f"[kamailio] tls_port and port must differ (both {kamailio.port})")
    asterisk = settings.asterisk
    if kamailio.tls_port and (asterisk.sip_host, asterisk.sip_tls_port) == (kamailio.listen_host, kamailio.tls_port):
        raise ConfigError(
            f"[kamailio] tls_port {kamailio.tls_port} is this installation's Asterisk's SIP over TLS port on the same"
            " address: give one of them another port ([asterisk] sip_tls_port = 0 turns Asterisk's off)"
        )
    if kamailio.probe_seconds < 1 or kamailio.probe_threshold < 1:
        raise ConfigError("[kamailio] probe_seconds and probe_threshold must be at least 1")
    try:
        asterisk_links(settings)
    except ValueError as exc:
        raise ConfigError(f"[kamailio] {exc}") from None


@dataclass(frozen=True)
class KamailioNode:
    """One Asterisk node behind Kamailio: its name in [kamailio] nodes and where it takes SIP."""

    name: str
    host: str
    port: int
    # Where its AMI and HTTP server (ARI) answer on ``host``; 0: not given.
    ami_port: int = 0
    http_port: int = 0

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"sip:{host}:{self.port}"


def kamailio_nodes(settings: Settings) -> tuple[KamailioNode, ...]:
    """[kamailio] nodes, in their order; empty: this installation's own Asterisk, as ``local``. ValueError names an
    entry that is not name=host:port."""
    entries = [entry.strip() for entry in settings.kamailio.nodes.split(",") if entry.strip()]
    if not entries:
        return (KamailioNode("local", settings.asterisk.sip_host, settings.asterisk.sip_port),)
    nodes = []
    for entry in entries:
        name, _, address = entry.partition("=")
        sip, slash, control = address.strip().partition("/")
        host, _, port = sip.rpartition(":")
        ports = control.split("/") if slash else []
        well_formed = name.strip() and host and port.isdigit() and len(ports) in (0, 2)
        if not well_formed or not all(p.isdigit() for p in ports):
            raise ValueError(f"nodes: {entry!r} is not name=host:port or name=host:port/ami_port/http_port")
        ami_port, http_port = (int(p) for p in ports) if ports else (0, 0)
        nodes.append(KamailioNode(name.strip(), host.strip("[]"), int(port), ami_port, http_port))
    return tuple(nodes)


@dataclass(frozen=True)
class AsteriskLink:
    """An Asterisk the controller drives: its node's name ("": the one Asterisk of an installation without driven
    nodes) and where its AMI and HTTP server (ARI) answer."""

    node: str
    host: str
    ami_port: int
    http_port: int


def one_asterisk(settings: Settings) -> AsteriskLink:
    """The installation's own Asterisk as [asterisk] names it, node ""."""
    a = settings.asterisk
    return AsteriskLink("", a.host, a.ami_port, a.http_port)


def asterisk_links(settings: Settings) -> tuple[AsteriskLink, ...]:
    """The Asterisks the controller drives, in [kamailio] nodes' order: every node once any node names its AMI and
    HTTP ports, the installation's own through [asterisk]; otherwise the one Asterisk of [asterisk], node "" (as
    without Kamailio). ValueError names a node the controller could not reach."""
    a = settings.asterisk
    own = one_asterisk(settings)
    nodes = kamailio_nodes(settings) if settings.kamailio.enabled else ()
    if not any(node.ami_port for node in nodes):
        return (own,)
    links = []
    for node in nodes:
        if node.ami_port:
            links.append(AsteriskLink(node.name, node.host, node.ami_port, node.http_port))
        elif (node.host, node.port) == (a.sip_host, a.sip_port):
            links.append(dataclasses.replace(own, node=node.name))
        else:
            raise ValueError(
                f"nodes: {node.name} names no AMI and HTTP ports (name=host:port/ami_port/http_port) and is not "
                "this installation's own Asterisk ([asterisk] sip_host:sip_port)"
            )
    return tuple(links)


def company_asterisks(settings: Settings, company_id: int) -> tuple[AsteriskLink, ...]:
    """The Asterisks a company's calls are on, as Kamailio sends them: its home node ([kamailio] homes; the first
    node otherwise), then the others in [kamailio] nodes' order from there (the next one is its standby)."""
    links = asterisk_links(settings)
    if len(links) == 1:
        return links
    home = kamailio_homes(settings).get(company_id, links[0].node)
    start = next((i for i, link in enumerate(links) if link.node == home), 0)
    return links[start:] + links[:start]


def system_name(settings: Settings) -> str:
    """The name this installation's Asterisk prefixes its channels' unique ids with (asterisk.conf systemname): its
    node's when the controller drives several (their ids then never collide); "" otherwise (none, as before)."""
    a = settings.asterisk
    if len(asterisk_links(settings)) < 2:
        return ""
    own = [node.name for node in kamailio_nodes(settings) if (node.host, node.port) == (a.sip_host, a.sip_port)]
    return own[0] if own else ""


def kamailio_homes(settings: Settings) -> dict[int, str]:
    """[kamailio] homes: company id -> its home node's name. ValueError names an entry that is not company_id=node."""
    homes = {}
    for entry in (e.strip() for e in settings.kamailio.homes.split(",") if e.strip()):
        company, _, node = entry.partition("=")
        if not company.strip().isdigit() or not node.strip():
            raise ValueError(f"homes: {entry!r} is not company_id=node")
        homes[int(company)] = node.strip()
    return homes


def turn_peers(settings: Settings) -> tuple[str, ...]:
    """The addresses the TURN relay may forward media to (see ``TurnSettings.peers``); ValueError names an entry that
    is no IP address (coturn's peer lists take addresses, not names)."""
    if settings.turn.peers:
        entries = settings.turn.peers.split(",")
    else:
        asterisk = settings.asterisk
        advertised = [pair.split("=>")[-1] for pair in asterisk.ice_host_candidates.split(",") if "=>" in pair]
        # A browser agent's call may be on any node: the relay must reach each one's media.
        nodes = [node.host for node in kamailio_nodes(settings)] if settings.kamailio.enabled else []
        entries = [asterisk.media_address or asterisk.sip_host, *advertised, *nodes]
    peers = dict.fromkeys(str(ipaddress.ip_address(entry.strip())) for entry in entries if entry.strip())
    return tuple(peers)


EXTRA_SMSCS = "smpp_extra"


def _extra_smscs(tables) -> tuple[SmppSettings, ...]:
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"write each further SMSC as a [[{EXTRA_SMSCS}]] table")
    return tuple(_section(SmppSettings, table, {}, EXTRA_SMSCS) for table in tables)


SECRET_KEYS = {"password", "secret"}


def describe(settings: Settings) -> str:
    """The settings as TOML, for `leadcenter config`."""
    lines = []
    for section in dataclasses.fields(settings):
        if section.name == EXTRA_SMSCS:
            for extra in settings.smpp_extra:
                lines += [f"[[{EXTRA_SMSCS}]]", *_describe_values(extra, None), ""]
            continue
        lines += [f"[{section.name}]", *_describe_values(getattr(settings, section.name), section.name), ""]
    return "\n".join(lines)


def _describe_values(values, env_section: str | None) -> list[str]:
    lines = []
    for f in dataclasses.fields(values):
        value = getattr(values, f.name)
        if f.name in SECRET_KEYS and value:
            value = "(set)"  # `leadcenter config` output gets pasted into tickets
        elif f.name == "url":
            value = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1(set)@", value)  # a database URL's password
        shown = f'"{value}"' if isinstance(value, str) else str(value).lower()
        env = f"  # {environment_name(env_section, f.name)}" if env_section else ""
        lines.append(f"{f.name} = {shown}{env}")
    return lines
