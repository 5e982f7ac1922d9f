"""Drift detection per class: sequential detectors and score drift, fed by evaluations, used by decisions."""
