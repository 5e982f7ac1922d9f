"""The store: declarative base, engine and session factory, and one model module per aggregate."""
