"""Files are private by default: the data directory is its owner's alone, and Asterisk's root gets an account of
its own (tests/integration/test_file_modes.py shows the result as another local user sees it)."""

import stat

import pytest

from leadcenter import datadir
from leadcenter.pbx import provision


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_what_an_older_version_left_become_the_owners_alone(tmp_path):
    data = tmp_path / "var"
    (data / "tls").mkdir(parents=True)
    (data / "asterisk/etc").mkdir(parents=True)
    for path, mode in ((data, 0o755), (data / "tls", 0o755), (data / "asterisk", 0o750)):
        path.chmod(mode)
    files = {
        data / "leadcenter.sqlite3": 0o644,
        data / "tls/self-signed.crt": 0o644,
        data / "secrets.toml": 0o600,
        data / "asterisk/etc/manager.conf": 0o640,
    }
    for path, mode in files.items():
        path.write_text("x")
        path.chmod(mode)
    datadir.make_private(data, shared=data / "asterisk")
    assert [
        _mode(p)
        for p in (data, data / "tls", data / "leadcenter.sqlite3", data / "tls/self-signed.crt", data / "secrets.toml")
    ] == [0o700, 0o700, 0o600, 0o600, 0o600]
    # Asterisk's instance directory keeps its group's access (pbx/process.py sets it).
    assert (_mode(data / "asterisk"), _mode(data / "asterisk/etc/manager.conf")) == (0o750, 0o640)


def test_a_new_data_directory_is_made_private(tmp_path):
    data = tmp_path / "new" / "var"
    datadir.make_private(data, shared=data / "asterisk")
    assert _mode(data) == 0o700


PASSWD = "root:x:0:0:root:/root:/bin/bash\nasterisk:x:101:101:Asterisk PBX daemon:/var/lib/asterisk:/usr/sbin/nologin\n"
GROUP = "root:x:0:\ndialout:x:20:asterisk\nasterisk:x:101:\n"


def test_the_roots_asterisk_user_takes_other_ids_and_keeps_everything_else():
    assert provision.with_ids(PASSWD, "asterisk", 995, 996) == PASSWD.replace(":101:101:", ":995:996:")
    assert provision.with_ids(GROUP, "asterisk", None, 996) == "root:x:0:\ndialout:x:20:asterisk\nasterisk:x:996:\n"


def test_the_accounts_id_is_free_on_the_host_and_in_the_root():
    assert provision.free_system_id({101, 999, 998}) == 997
    with pytest.raises(provision.ProvisionError):
        provision.free_system_id(set(range(100, 1000)))
