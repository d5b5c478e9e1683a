"""A stored summary laid out for reading: introduction, sections, topics, complexity gauges.

Used by the summary screen and (twice, side by side) by the compare screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Static

from engine.api import backend_label, backend_text, failed_sentence, grounding_text
from engine.schema import Section
from engine.timefmt import format_timestamp
from tui import format as fmt
from tui.widgets.gauge import ComplexityGauge

if TYPE_CHECKING:
    from engine.library.records import Entry


class SectionView(Vertical, can_focus=True):
    """One of the five sections; focusable so keys can act on "this section".

    Within it one line is highlighted (the heading, or one bullet): the one whose time the
    summary screen links to the video.
    """

    def __init__(self, index: int, section: Section, *, focusable: bool = True) -> None:
        super().__init__(classes="section")
        self.index = index
        self.section = section
        self.can_focus = focusable
        self.highlighted = -1  # -1: the heading; 0..3: that bullet

    def move_highlight(self, step: int) -> None:
        """Highlight the next (+1) or previous (-1) line, heading included, within bounds."""
        self.highlighted = max(-1, min(len(self.section.content) - 1, self.highlighted + step))
        lines = [self.query_one(".section-head"), *self.query(".bullet")]
        for i, line in enumerate(lines, start=-1):
            line.set_class(i == self.highlighted, "-highlighted")

    @property
    def highlighted_time(self) -> float | None:
        """When the highlighted line is said: a quoted bullet's own time, else the section's
        start (a written bullet sums up the whole section)."""
        times = self.section.content_times
        if self.highlighted >= 0 and times is not None:
            return times[self.highlighted]
        return self.section.start

    def compose(self) -> ComposeResult:
        s = self.section
        # Title and time range wrap together: they stay readable in a half-width compare pane.
        # Model output is text, never markup: template variables are inserted verbatim
        # (textual.markup.escape misses forms such as "[ a ]", which then vanish or crash).
        span = fmt.time_range(s.start, s.end)
        head = "[b]$title[/b]" + ("  [$text-secondary]$span[/]" if span else "")
        yield Static(
            Content.from_markup(head, title=s.title, span=span),
            classes="section-head -highlighted",
        )
        times: list[float | None] = (
            list(s.content_times) if s.content_times else [None] * len(s.content)
        )
        for bullet, at in zip(s.content, times, strict=True):
            with Horizontal(classes="bullet"):
                yield Static("•", classes="bullet-mark")
                if at is not None:  # quote mode: where the sentence is said
                    yield Static(f"[{format_timestamp(at)}]", classes="bullet-time")
                yield Static(Content(bullet), classes="bullet-text")
        yield Static(
            Content.from_markup("[$text-muted]Topics:[/] $topics", topics=" · ".join(s.topics)),
            classes="section-topics",
        )


def meta_line(entry: Any) -> str:
    """Channel · date · length · model (and the server it ran on), whatever is known."""
    t, p = entry.transcript, entry.provenance
    parts = [
        t.channel or "",
        fmt.date(entry.created_at),
        fmt.duration(t.duration),
        # A local summary is the plain case; a server's names where it ran.
        p.model_id if p.is_local else f"{p.model_id} on {backend_label(p.backend, p.endpoint)}",
    ]
    return " · ".join(part for part in parts if part)


def provenance_line(entry: Any) -> str:
    """Coverage, tokens and speed, the versions it was made with, and where it ran."""
    p, c = entry.provenance, entry.coverage
    tps = p.generated_tokens / p.generation_seconds if p.generation_seconds else 0.0
    covered = f"covers {c.fraction:.0%} of the transcript"
    if c.passes > 1:
        covered += f" in {c.passes} passes"
    return (
        f"{covered}; {p.prompt_tokens:,} prompt tokens in {p.prompt_seconds:.1f} s, "
        f"{p.generated_tokens:,} generated in {p.generation_seconds:.1f} s ({tps:.1f} tok/s); "
        + (f"{p.quant}, " if p.quant else "")
        + f"prompt {p.prompt_version}, grammar {p.grammar_version}; backend: {backend_text(p)}"
    )


class SummaryView(Vertical):
    def __init__(
        self,
        entry: Entry,
        *,
        demo_notice: str | None = None,
        focusable: bool = True,
        id: str | None = None,
        classes: str = "",
    ) -> None:
        """``demo_notice``: ``Engine.demo_notice`` for the entry's model (the screen asks the
        engine; the widget reaches no deeper than the record it shows)."""
        super().__init__(id=id, classes=f"summary-view {classes}")
        self.entry = entry
        self.demo_notice = demo_notice
        self.sections_focusable = focusable

    def compose(self) -> ComposeResult:
        entry, summary = self.entry, self.entry.summary
        if entry.failed:
            # Never shown as a good summary: what happened and what to do, before anything.
            yield Static(Content(failed_sentence(entry)), classes="failed-banner")
        # The whole title (the top bar has room for its start only at 80 columns).
        yield Static(Content(entry.title), classes="title")
        yield Static(Content(meta_line(entry)), classes="meta")
        if self.demo_notice is not None:
            yield Static(Content(self.demo_notice), classes="demo-notice")
        yield Static("Introduction", classes="heading")
        yield Static(Content(summary.introduction), classes="intro")
        yield Static("Sections", classes="heading")
        for i, section in enumerate(summary.sections):
            yield SectionView(i, section, focusable=self.sections_focusable)
        yield Static("Topics", classes="heading")
        yield Static(Content(" · ".join(summary.topics)), classes="topics")
        yield Static("General topics", classes="heading")
        width = max(len(g.topic) for g in summary.general_topics)
        for g in summary.general_topics:
            yield ComplexityGauge(g, name_width=width)
        if entry.grounding is not None:
            yield Static(
                Content("Grounding: " + grounding_text(entry.grounding)), classes="grounding"
            )
        yield Static(Content(provenance_line(entry)), classes="provenance")

    @property
    def sections(self) -> list[SectionView]:
        return list(self.query(SectionView))
