"""Quote mode: units of the talk's own words, ranked and chosen (extractive), and the optional
model pick."""
