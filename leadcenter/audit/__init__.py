"""The audit log: every admin change, who made it, when, and what changed (before/after, secrets masked)."""
