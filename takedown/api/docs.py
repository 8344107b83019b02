"""The OpenAPI schema and browsable docs (Swagger UI served from our own static files: no third-party assets,
and the split view keeps its script out of the page, as the site's Content-Security-Policy requires)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


class SchemaView(SpectacularAPIView):
    pass


class DocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    title = "Takedown partner API"
