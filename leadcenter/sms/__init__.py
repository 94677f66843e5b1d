"""The SMS transport: the only code that talks SMPP (smpplib). It exposes verbs (submit a part) and calls back
with what the SMSC answered and delivered; the texts domain decides what that means."""
