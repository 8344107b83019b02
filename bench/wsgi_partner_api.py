"""WSGI entry for the benchmark: builds the bank's index in the gunicorn master (--preload) so workers share it."""

from django.core.wsgi import get_wsgi_application

from bench.partner_bank import bank

application = get_wsgi_application()
bank()
