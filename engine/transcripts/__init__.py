"""Transcripts: the normalized type (``types``), chapters (``chapters``), and the readers
(``readers``: txt, SRT/WebVTT, Whisper and YouTube JSON, yt-dlp ``.info.json``; each format a
class in ``readers.formats``, tried in order).

May import: the ground floor only.
"""
