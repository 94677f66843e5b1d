"""Prompts: the audio a business records for its callers (agents' and the company's voicemail greetings, the
recording notice), uploaded through the API and played by Asterisk."""
