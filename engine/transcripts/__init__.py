"""Transcripts: the normalized type, chapters, and one reader per file format.

May import: the ground floor only.
"""
