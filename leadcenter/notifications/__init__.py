"""Notifications: emails to agents about website chats (new, missed, offline forms), as each agent chose in their
profile; sent through the mail outbox (leadcenter/mail.py)."""
