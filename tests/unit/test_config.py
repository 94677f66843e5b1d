import pytest

from leadcenter import config


def test_defaults_bind_loopback():
    settings = config.load(env={})
    assert settings.http.host == settings.asterisk.host == settings.asterisk.bind_host == "127.0.0.1"
    assert settings.asterisk.sip_host == "127.0.0.1"
    assert settings.http.port == 8080


def test_file_then_environment_override(tmp_path):
    path = tmp_path / "lc.toml"
    path.write_text('[http]\nport = 9000\nhost = "0.0.0.0"\n[asterisk]\nsip_port = 5080\n')
    settings = config.load(path, env={"LEADCENTER_HTTP_PORT": "9001"})
    assert (settings.http.host, settings.http.port, settings.asterisk.sip_port) == ("0.0.0.0", 9001, 5080)


def test_file_in_data_dir_is_found(tmp_path):
    (tmp_path / "leadcenter.toml").write_text("[http]\nport = 9100\n")
    assert config.load(env={"LEADCENTER_PATHS_DATA_DIR": str(tmp_path)}).http.port == 9100


@pytest.mark.parametrize(
    "text,message",
    [
        ("[htp]\nport = 1\n", "unknown section"),
        ("[http]\nprot = 1\n", "unknown setting"),
        ('[http]\nport = "x"\n', "must be int"),
        ("[http\n", "lc.toml"),
        ('[smpp]\nhost = "a"\n[[smpp_extra]]\nhost = "b"\n', "a name of its own"),
        ('[smpp_extra]\nhost = "b"\n', r"\[\[smpp_extra\]\] table"),
        ('[[smpp_extra]]\nhots = "b"\n', "unknown setting"),
        ('[http]\ntrusted_proxies = "10.0.0.0/8, proxy.example"\n', "trusted_proxies: 'proxy.example' does not"),
    ],
)
def test_bad_files_get_clear_errors(tmp_path, text, message):
    path = tmp_path / "lc.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(path, env={})


def test_bad_environment_value():
    with pytest.raises(config.ConfigError, match="LEADCENTER_HTTP_PORT must be a whole number"):
        config.load(env={"LEADCENTER_HTTP_PORT": "eighty"})


def test_describe_names_every_environment_variable():
    text = config.describe(config.load(env={}))
    assert "port = 8080  # LEADCENTER_HTTP_PORT" in text
    assert 'data_dir = "var"  # LEADCENTER_PATHS_DATA_DIR' in text


def test_several_smscs_each_with_its_numbers_and_the_password_hidden(tmp_path):
    path = tmp_path / "lc.toml"
    path.write_text(
        '[smpp]\nhost = "smsc1.example"\npassword = "s3cret"\n'
        '[[smpp_extra]]\nname = "backup"\nhost = "smsc2.example"\nnumbers = "+14045550101"\n'
    )
    settings = config.load(path, env={"LEADCENTER_SMPP_SYSTEM_ID": "acme"})
    assert [(s.name, s.host, s.system_id, s.numbers) for s in settings.smscs] == [
        ("smsc", "smsc1.example", "acme", ""),
        ("backup", "smsc2.example", "", "+14045550101"),
    ]
    shown = config.describe(settings)
    assert "[[smpp_extra]]" in shown and "s3cret" not in shown


def test_the_database_is_sqlite_unless_a_postgresql_url_is_set_and_its_password_is_never_shown():
    assert config.load(env={}).database.url == ""
    url = "postgresql://leadcenter:s3cret@db.example:5432/leadcenter"
    settings = config.load(env={"LEADCENTER_DATABASE_URL": url})
    assert settings.database.url == url
    assert "s3cret" not in config.describe(settings) and "LEADCENTER_DATABASE_URL" in config.describe(settings)
    assert settings.database_name == "postgresql://leadcenter@db.example:5432/leadcenter"
    with pytest.raises(config.ConfigError, match="PostgreSQL URL"):
        config.load(env={"LEADCENTER_DATABASE_URL": "mysql://x@y/z"})
