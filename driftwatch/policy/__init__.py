"""Decisions: routing tiers per class, promotions, demotion recommendations, and their audit log."""
