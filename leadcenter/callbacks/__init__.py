"""Queue callback: a caller waiting in a team's queue presses 1 to be called back, keeping their place."""
