"""The web layer: the Flask app, its JSON API, event stream and SIP relay, served by Hypercorn (server.py)."""
