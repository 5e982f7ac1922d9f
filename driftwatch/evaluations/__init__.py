"""Quality evidence per task class: evaluations received from elsewhere, listed, and summed per class."""
