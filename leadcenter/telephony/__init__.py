"""The telephony layer: the only code that talks to Asterisk (AMI and ARI). It exposes verbs and emits events."""
