"""The abstractive long-form summary: one pass, or notes on chunks merged until they fit."""
