"""The supervisors' Team View: the floor now, for a live page."""
