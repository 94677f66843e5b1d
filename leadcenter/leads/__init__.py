"""Leads: the people who contact a company, matched by phone number."""
