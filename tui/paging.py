"""Page cache behind the virtual library table: rows are fetched a page at a time, on demand.

The table asks for row ``i``; a miss records the page as wanted and the screen fetches it in a
worker. Every query change starts a new generation so late answers for an old query are dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class RowPager(Generic[T]):
    def __init__(self, page_size: int = 100, max_pages: int = 40) -> None:
        self.page_size = page_size
        self.max_pages = max_pages  # LRU bound: 4,000 rows in memory at most by default
        self.generation = 0
        self.total = 0
        self._pages: OrderedDict[int, Sequence[T]] = OrderedDict()
        self._pending: set[int] = set()

    def reset(self, total: int = 0) -> int:
        """Forget every page (a new query); returns the new generation."""
        self.generation += 1
        self.total = total
        self._pages.clear()
        self._pending.clear()
        return self.generation

    def page_of(self, index: int) -> int:
        return index // self.page_size

    def get(self, index: int) -> T | None:
        if not 0 <= index < self.total:
            return None
        page = self._pages.get(self.page_of(index))
        if page is None:
            return None
        self._pages.move_to_end(self.page_of(index))
        offset = index - self.page_of(index) * self.page_size
        return page[offset] if offset < len(page) else None

    def want(self, index: int) -> int | None:
        """The page to fetch for ``index``, once: None when loaded, pending or out of range."""
        if not 0 <= index < self.total:
            return None
        page = self.page_of(index)
        if page in self._pages or page in self._pending:
            return None
        self._pending.add(page)
        return page

    def store(self, generation: int, page: int, rows: Sequence[T]) -> bool:
        """Keep a fetched page unless it belongs to an older query."""
        if generation != self.generation:
            return False
        self._pending.discard(page)
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        return True

    def failed(self, generation: int, page: int) -> None:
        if generation == self.generation:
            self._pending.discard(page)

    @property
    def loaded_pages(self) -> list[int]:
        return sorted(self._pages)
