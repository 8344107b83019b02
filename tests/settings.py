"""Settings for the suite: the project's own, with TAKEDOWN_TESTING on and a private storage and cache."""

import os
import tempfile

os.environ.setdefault("TAKEDOWN_TESTING", "true")
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="takedown-test-"))
os.environ.setdefault("CACHE_KEY_PREFIX", f"takedown-test-{os.getpid()}")

from takedown.settings import *  # noqa: F403

# Argon2 at its production cost makes every fixture login slow; the hasher choice itself is tested.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]  # noqa: F405
CELERY_TASK_ALWAYS_EAGER = True
OUTBOX_EAGER_SYNC = True
