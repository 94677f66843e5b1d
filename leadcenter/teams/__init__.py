"""Teams of agents; each team is served by one Asterisk queue."""
