"""Complexity drawn as a gauge: filled cells for the 0.00–1.00 score, in theme colours."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import RenderResult
from textual.widget import Widget

from engine.schema import GeneralTopic

FULL, EMPTY = "━", "─"
# Eighth blocks would be smoother, but whole cells read the same in every terminal font.


def gauge_text(value: float, width: int, filled: Style, empty: Style) -> Text:
    value = max(0.0, min(1.0, value))
    n = round(value * width)
    return Text.assemble((FULL * n, filled), (EMPTY * (width - n), empty))


class ComplexityGauge(Widget):
    """One general topic: name, gauge, score and the scale's level name."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "gauge--filled",
        "gauge--empty",
        "gauge--score",
        "gauge--level",
    }
    DEFAULT_CSS = """
    ComplexityGauge {
        height: 1;
        & > .gauge--filled { color: $accent; }
        & > .gauge--empty { color: $foreground 20%; }
        & > .gauge--score { text-style: bold; }
        & > .gauge--level { color: $text-muted; }
    }
    """

    def __init__(self, topic: GeneralTopic, *, name_width: int = 0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.topic = topic
        self.name_width = name_width

    def render(self) -> RenderResult:
        width = self.size.width or 60
        name = self.topic.topic
        level = self.topic.level
        # Name | gauge | score | level; the gauge takes what is left, never below 10 cells.
        name_w = min(self.name_width or len(name), max(12, width // 2 - 4))
        level_w = len(level) if width >= 90 else 0
        bar_w = max(10, width - name_w - 7 - (level_w + 1 if level_w else 0))
        label = Text(name)
        label.truncate(name_w, overflow="ellipsis", pad=True)
        text = Text.assemble(
            label,
            " ",
            gauge_text(
                self.topic.complexity,
                bar_w,
                self.get_component_rich_style("gauge--filled"),
                self.get_component_rich_style("gauge--empty"),
            ),
            (f" {self.topic.complexity:.2f}", self.get_component_rich_style("gauge--score")),
        )
        if level_w:
            text.append(f" {level}", self.get_component_rich_style("gauge--level"))
        return text
