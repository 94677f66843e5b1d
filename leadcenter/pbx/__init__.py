"""The Asterisk installation, as infrastructure (it imports no domain): every name Lead Center gives Asterisk's
objects (names.py), the configuration as pure functions of plain specs (render.py), the Debian sid root and the host
account Asterisk runs as (provision.py), and this installation's instance directory and Asterisk process
(process.py). What the database's rows become as specs is ``leadcenter/asterisk_config.py``, above the domains."""
