"""API keys: creation, revocation and verification."""
