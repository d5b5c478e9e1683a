"""Timestamps that open the video: the one link builder (``engine.timefmt.video_time_url``),
and Markdown exports of real summaries (tiny random-weight model, quote mode, real library)
of a yt-dlp .info.json, Whisper JSON in its three shapes, and `summarize --url`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.timefmt import video_time_url

VIDEO_ID = "dQw4w9WgXcQ"
VIDEO = f"https://www.youtube.com/watch?v={VIDEO_ID}"


@pytest.mark.parametrize(
    "url,video_id,link",
    [
        (f"{VIDEO}&list=PL1&index=2", VIDEO_ID, f"{VIDEO}&t=123s"),
        (f"https://youtu.be/{VIDEO_ID}?si=abc", None, f"{VIDEO}&t=123s"),
        (f"https://m.youtube.com/live/{VIDEO_ID}", None, f"{VIDEO}&t=123s"),
        (f"https://www.youtube-nocookie.com/embed/{VIDEO_ID}", None, f"{VIDEO}&t=123s"),
        (None, VIDEO_ID, f"{VIDEO}&t=123s"),  # youtube-transcript-api knows only the id
        ("https://vimeo.com/76979871", "76979871", "https://vimeo.com/76979871#t=123s"),
        ("https://talks.example.org/a/talk.mp4?x=1", None, "https://talks.example.org/a/talk.mp4?x=1#t=123"),
        ("https://example.org/watch?v=vid1", "vid1", None),  # a page that cannot start at a time
        (f"https://notyoutube.com/watch?v={VIDEO_ID}", None, None),
        ("ftp://example.org/talk.mp4", None, None),
        (None, "vid1", None),
        (None, None, None),
    ],
)  # fmt: skip
def test_video_time_url(url: str | None, video_id: str | None, link: str | None) -> None:
    # 123.9 s is shown as 00:02:03, so the link opens second 123 too.
    assert video_time_url(url, video_id, 123.9) == link


SENTENCES = [f"Point {i} about cache lines comes with example number {i}." for i in range(20)]


def _summarize_and_export(
    capsys: pytest.CaptureFixture[str], tiny: Path, path: Path, *extra: str
) -> str:
    flags = ["--model", str(tiny), "--ctx", "4096", "--threads", "1", "--gpu-layers", "0"]
    flags += ["--seed", "5", "--temperature", "0", "-q", "--style", "quotes", "--json"]
    code = main(["summarize", str(path), *flags, *extra])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    entry_id = json.loads(out)["id"]
    assert main(["library", "export", str(entry_id)]) == 0
    return capsys.readouterr().out


def _links(md: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(seconds shown, link) of every linked bullet and every linked section heading."""

    def seconds(stamp: str) -> int:
        h, m, s = map(int, stamp.split(":"))
        return h * 3600 + m * 60 + s

    bullets = re.findall(r"^- \[\[(\d\d:\d\d:\d\d)\]\]\((\S+)\) ", md, re.M)
    heads = re.findall(
        r"^### Section \d: .* \(\[(\d\d:\d\d:\d\d)–\d\d:\d\d:\d\d\]\((\S+)\)\)$", md, re.M
    )
    return [(seconds(t), u) for t, u in bullets], [(seconds(t), u) for t, u in heads]


def test_info_json_export_links_every_timed_bullet_to_its_second(
    tmp_path: Path, tiny_llama_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = {
        "id": VIDEO_ID, "title": "Cache lines", "webpage_url": VIDEO, "extractor": "youtube",
        "subtitles": {"en": []}, "duration": 250.0,
    }  # fmt: skip
    cues = [
        f"{i + 1}\n00:{i * 12 // 60:02d}:{i * 12 % 60:02d},500 --> "
        f"00:{(i * 12 + 5) // 60:02d}:{(i * 12 + 5) % 60:02d},000\n{text}\n"
        for i, text in enumerate(SENTENCES)
    ]
    (tmp_path / "talk.en.srt").write_text("\n".join(cues), encoding="utf-8")
    path = tmp_path / "talk.info.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    bullets, heads = _links(_summarize_and_export(capsys, tiny_llama_path, path))
    assert len(bullets) == 20 and len(heads) == 5
    for shown, link in bullets + heads:
        assert link == f"{VIDEO}&t={shown}s"
    # Each bullet is the cue it quotes: second 12*i (the cue starts at 12*i + 0.5 s).
    assert sorted(shown for shown, _ in bullets) == [12 * i for i in range(20)]


def _whisper(shape: str) -> object:
    if shape == "whisper.cpp":
        items = [
            {"timestamps": {}, "offsets": {"from": i * 9000, "to": i * 9000 + 4000}, "text": t}
            for i, t in enumerate(SENTENCES)
        ]
        return {"result": {"language": "en"}, "transcription": items}
    segments = [
        {"start": i * 9.0, "end": i * 9.0 + 4, "text": " " + t, "words": [{"word": "x"}]}
        for i, t in enumerate(SENTENCES)
    ]
    if shape == "openai-whisper":
        return {"text": " ".join(SENTENCES), "segments": segments, "language": "en"}
    return segments  # faster-whisper / WhisperX


@pytest.mark.parametrize("shape", ["openai-whisper", "whisperx", "whisper.cpp"])
def test_whisper_json_summarizes_with_timestamps_and_url_links_them(
    shape: str, tmp_path: Path, tiny_llama_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "talk.json"
    path.write_text(json.dumps(_whisper(shape)), encoding="utf-8")
    page = "https://vimeo.com/76979871"
    bullets, heads = _links(_summarize_and_export(capsys, tiny_llama_path, path, "--url", page))
    assert len(bullets) == 20 and len(heads) == 5
    for shown, link in bullets + heads:
        assert link == f"{page}#t={shown}s"
    assert sorted(shown for shown, _ in bullets) == [9 * i for i in range(20)]


def test_url_must_be_a_web_address(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "talk.txt"
    path.write_text(" ".join(SENTENCES), encoding="utf-8")
    assert main(["summarize", str(path), "--url", "youtube dot com"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "--url 'youtube dot com' is not a web address" in err
    assert main(["summarize", str(path), str(path), "--url", VIDEO]) == 1
    assert "--url names the video of one transcript" in capsys.readouterr().err
