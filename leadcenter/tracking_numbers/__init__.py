"""Tracking numbers: a company's phone numbers, each on a trunk and tied to a marketing source and a call flow."""
