"""Tests of the judges and the judge chain."""
