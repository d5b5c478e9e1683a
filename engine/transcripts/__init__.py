"""Transcripts: the normalized type (``types``), chapters (``chapters``), and one reader per file
format (``readers``: txt, SRT/WebVTT, YouTube JSON, yt-dlp ``.info.json``).

May import: the ground floor only.
"""
