"""Call flows: the steps a call to a tracking number goes through."""
