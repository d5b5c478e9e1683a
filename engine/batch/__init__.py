"""Batches: transcripts read and deduped, run locally or on servers, stored with provenance."""
