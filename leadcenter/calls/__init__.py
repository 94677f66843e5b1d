"""Calls: turning the telephony layer's call events into interactions on the lead's timeline."""
