"""For auditors: what changed between versions, which decisions it changes and why, and how it reads."""
