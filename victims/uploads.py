"""An upload handler that keeps image uploads in memory and never writes them to a temporary file.

Django spills uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to disk, unencrypted. This handler instead stops
buffering a file once it passes MAX_UPLOAD_BYTES (or the request passes its total), marks it `too_large` so
the form says so, and keeps parsing the other fields, so what the person typed is still there on the page.
The original file name is dropped here, at the first moment the server sees it.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from victims.forms import MAX_IMAGES


class BoundedMemoryUploadHandler(FileUploadHandler):
    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.per_file = int(settings.MAX_UPLOAD_BYTES)
        # Room for every allowed image at the largest size would be too much memory for one request.
        self.total = self.per_file * min(MAX_IMAGES, 3)
        self.seen = 0
        self.buffer = io.BytesIO()
        self.too_large = False
        self.size = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.too_large = False
        self.size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.size += len(raw_data)
        if self.too_large:
            return None
        if self.size > self.per_file or self.seen + len(raw_data) > self.total:
            self.too_large = True
            self.buffer = io.BytesIO()
            return None
        self.buffer.write(raw_data)
        self.seen += len(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        upload = InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name="image",
            content_type=self.content_type,
            size=0 if self.too_large else file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
        upload.too_large = self.too_large  # type: ignore[attr-defined]
        return upload
