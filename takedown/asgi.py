import os

from django.core.asgi import get_asgi_application

from takedown.core.startup import startup_check

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "takedown.settings")
# Before Django starts, so the operator reads which variable is missing rather than Django's generic complaint.
startup_check()
application = get_asgi_application()
