"""Structure: from a Trace to what the tables, charts and comparisons show (pure functions, cached per config)."""
