"""The tier each class is routed to, and the decision log: the tables decisions write and others read."""
