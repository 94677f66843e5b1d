"""Tracking numbers and the SIP trunks they arrive on."""
