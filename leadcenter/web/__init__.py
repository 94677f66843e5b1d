"""The web layer: the Flask app (served by gunicorn's threaded worker), its JSON API and event stream."""
