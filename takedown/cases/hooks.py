"""What other apps learn about a case's life, as Django signals they connect to at start-up.

Apps that depend on cases (victims' hash-bank links, ...) connect here from their own `AppConfig.ready`, so cases
never names them: dependencies keep running one way.

- `case_purging`: sent with `case=` and `actor=` inside the retention purge's transaction, before the case's rows
  are deleted, for what an app keeps about a case outside its foreign keys. A receiver that raises aborts the
  purge (the whole transaction rolls back and the next run tries again), so nothing is half-deleted.
"""

from __future__ import annotations

from django.dispatch import Signal

case_purging = Signal()
