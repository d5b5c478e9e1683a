"""What every vidsum screen shares: typed access to the app (as ``tui.host.VidsumHost``, so no
screen imports ``tui.app``) and its engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.screen import ModalScreen, Screen
from textual.worker import Worker

from tui.jobs import call_engine

if TYPE_CHECKING:
    from engine.api import EngineAPI
    from tui.host import VidsumHost

T = TypeVar("T")


class EngineMixin:
    app: Any

    @property
    def vidsum(self) -> VidsumHost:
        app: VidsumHost = self.app
        return app

    @property
    def engine(self) -> EngineAPI:
        return self.vidsum.engine

    def call_engine(
        self,
        fn: Callable[[], T],
        then: Callable[[T], None] | None = None,
        **kwargs: Any,
    ) -> Worker[None]:
        return call_engine(self, fn, then, **kwargs)  # type: ignore[arg-type]


class VidsumScreen(EngineMixin, Screen[None]):
    """A full screen with the app's header and footer."""

    SUB_TITLE = ""


class VidsumModal(EngineMixin, ModalScreen[T]):
    """A dialog over the current screen."""
