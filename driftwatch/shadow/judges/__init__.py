"""Judges: decide whether a cheaper tier's answer was acceptable next to the reference tier's."""
