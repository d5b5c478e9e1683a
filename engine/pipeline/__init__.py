"""The summary algorithm: a ``Transcript`` and a ``Backend`` in, a validated, grounded result out.

It reads no files and touches no library, model store, machine or settings (an import-linter
contract); the batch layer (``engine.batch``) does that and calls in here. It sees inference
only through ``engine.runtime.base`` (the Backend protocol and the ``Constraint`` it hands over).

Rooms:
- ``prompts``: every word said to a model (``instructions``), chats (``prompting``), the GBNF
  grammars and their constraints (``grammar``, ``notes``).
- ``parts``: the five parts (``chunking``; ``segment``: where the topic changes, for quote mode),
  scored units (``units``) and the token estimate (``tokens``).
- ``passes``: one model pass with retries (``attempts``), a job on one transcript (``job``),
  lanes, token budgets, run records (``results``).
- ``longform``: the abstractive summary (``summary``: ``one_pass``, or ``multipass`` with
  ``notes_merge``; its ``prompts``).
- ``quotes``: quote mode (``summary``): ``text`` over ``sentences``, chosen by ``extractive`` on
  ``rank`` (``opening``: whether a unit reads on its own); the model's optional pick under
  ``grammar``.
- ``labels``: titles and topics (``sections``, ``keyphrases``), general fields with complexity
  (``fields``, ``field_lexicon``), by classical scoring.
- ``checks``: validation, degenerate-output checks (``quality``), ``grounding``, content
  ``words``.
"""
