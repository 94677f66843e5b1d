"""Lead Center: a self-hosted contact center on Asterisk."""

__version__ = "0.1.0"
