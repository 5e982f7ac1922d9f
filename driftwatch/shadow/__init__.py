"""Shadow evaluation: replay sampled calls on the reference tier and judge the difference."""
