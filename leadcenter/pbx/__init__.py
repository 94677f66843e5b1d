"""The Asterisk installation: the Debian sid root it runs in, its process, and its configuration as code."""
