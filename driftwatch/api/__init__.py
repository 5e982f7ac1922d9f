"""HTTP surface: the app factory, routes, schemas and metrics."""
