"""Model passes: one pass with retries, a summary job, lanes, token budgets, run results."""
