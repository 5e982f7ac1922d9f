"""Notifications: the durable outbox of events, and their delivery to webhooks."""
