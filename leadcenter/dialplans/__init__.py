"""Custom dialplan contexts: the installation owner's own Asterisk dialplan, checked, versioned and applied live."""
