"""The data directory is private to the account Lead Center runs as: the database holds the agents' SIP passwords,
every lead's data and the users' password hashes, secrets.toml the AMI and ARI passwords, the session key and the
TURN secret, tls/ the HTTPS key, turn/ coturn's configuration (with that secret). No other local account may read
any of it.

The Asterisk instance directory inside it is shared with the Asterisk account (``pbx/process.py`` gives it its
owners and modes); everything else is the owner's alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# What this process and everything it starts (the web workers, Asterisk) creates is readable by its owner only.
PRIVATE_UMASK = 0o077


def make_private(data_dir: Path, shared: Path) -> None:
    """Create the data directory if needed and make it, and whatever an older version left in it with wider rights
    (a 0755 directory, a 0644 database), the owner's alone, except ``shared`` (Asterisk's instance directory)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for folder, dirs, files in os.walk(data_dir):
        dirs[:] = [d for d in dirs if Path(folder, d) != shared]
        for path in (Path(folder), *(Path(folder, name) for name in files)):
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and stat.S_IMODE(mode) & PRIVATE_UMASK:
                path.chmod(stat.S_IMODE(mode) & ~PRIVATE_UMASK)
