"""Agents: a user's profile in one company, with the SIP endpoints their calls ring."""
