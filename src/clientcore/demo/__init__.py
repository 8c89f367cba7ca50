"""A synthetic omnichannel retailer with known ground truth, for demos, tests and benchmarks."""
