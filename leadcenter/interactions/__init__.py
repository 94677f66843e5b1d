"""Interactions: every contact with a lead (call, text conversation, chat, voicemail, visit) and its lifecycle."""
