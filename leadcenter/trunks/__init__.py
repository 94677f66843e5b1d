"""SIP trunks: the carrier peers calls arrive from and go out through, recognised by address and port."""
