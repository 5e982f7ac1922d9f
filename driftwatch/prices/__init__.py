"""What models cost and what they are: the price table, the model table and the bundled list prices."""
