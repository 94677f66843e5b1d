"""Texts: conversations with leads over SMS, as interactions on the lead's timeline, with a durable outbox."""
