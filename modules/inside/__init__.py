"""Inside the model: the arithmetic behind the sampling explorer, the attention maps and the scaling calculator."""
