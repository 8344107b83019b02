"""Test-only app for the fault tests: pause points inside real work, so a process can be killed exactly there.

Installed only by tests/reliability/fault_settings.py, never by the project's settings. A pause point is armed by
creating the file `$FAULT_DIR/hold-<point>`; the process that reaches it writes its pid to `$FAULT_DIR/at-<point>`
and waits while the hold file exists (at most 60 s), so the test can kill -9 it in the middle of the work.
"""
