"""Voicemail: the messages callers leave in the company's and the agents' mailboxes."""
