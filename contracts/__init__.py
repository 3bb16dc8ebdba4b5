"""System contracts: deterministic Python, part of the node release.

Each contract method is a registered handler over a state overlay: it checks the signer's authority and
its arguments, then either applies all of its writes or none (the executor discards the overlay of a
failed call), and returns events and the entities it touched. No clock, randomness, floats or I/O.
"""
