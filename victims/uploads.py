"""Upload handlers: images stay in memory and never touch a temporary file; videos stream to unnamed ones.

Django spills uploads above FILE_UPLOAD_MAX_MEMORY_SIZE to disk, unencrypted. This handler instead stops
buffering a file once it passes MAX_UPLOAD_BYTES (or the request passes its total), marks it `too_large` so
the form says so, and keeps parsing the other fields, so what the person typed is still there on the page.
The original file name is dropped here, at the first moment the server sees it.

Videos (up to VIDEO_MAX_BYTES, 500 MB by default) cannot stay in memory: `VideoUploadHandler` writes them to
unnamed temporary files (O_TMPFILE: no name on disk, gone when closed or when the process dies), hashing them
as they arrive; the form checks them and makes the copy without metadata, and the service encrypts that copy
into the evidence store chunk by chunk.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest

from detection.video_media import ScratchFile
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


# --- videos ----------------------------------------------------------------------------------------------------

VIDEO_FIELDS = frozenset({"videos"})
MAX_VIDEOS = 3


class ScratchVideoUpload(UploadedFile):
    """A video as it arrived: in an unnamed temporary file (never in memory), with the digests of its bytes.

    `stripped` is set by the form once the copy without metadata is made; closing the upload closes both, and
    the operating system forgets unnamed files once closed (or when the process dies).
    """

    def __init__(self, scratch: ScratchFile, *, size: int, md5: str, sha256: str, too_large: bool,
                 too_many: bool, content_type: str | None, field_name: str) -> None:
        super().__init__(file=scratch.file, name="video", content_type=content_type, size=size)
        self.scratch = scratch
        self.md5 = md5
        self.sha256 = sha256
        self.too_large = too_large
        self.too_many = too_many
        self.field_name = field_name
        self.stripped: ScratchFile | None = None

    def close(self) -> None:
        if self.stripped is not None:
            self.stripped.file.close()
        super().close()


class VideoUploadHandler(FileUploadHandler):
    """Streams files of the video fields to unnamed temporary files, hashing them (MD5, SHA-256) as they arrive.

    Other fields' data passes on to the next handler (the bounded in-memory one for images). A video over
    VIDEO_MAX_BYTES stops being written at once and is marked `too_large`; videos past MAX_VIDEOS in one request
    are not written at all. The original file name is dropped here too.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.limit = int(settings.VIDEO_MAX_BYTES)
        self.active = False
        self.count = 0
        self.scratch: ScratchFile | None = None
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.too_large = False
        self.too_many = False

    def new_file(self, field_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, *args, **kwargs)
        self.active = field_name in VIDEO_FIELDS
        if not self.active:
            return
        self.count += 1
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.too_large = False
        self.too_many = self.count > MAX_VIDEOS
        handle = tempfile.TemporaryFile(dir=settings.VIDEO_TMP_DIR or None)
        self.scratch = ScratchFile(handle)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if not self.active:
            return raw_data
        assert self.scratch is not None
        self.size += len(raw_data)
        if self.too_large or self.too_many:
            return None
        if self.size > self.limit:
            self.too_large = True
            self.scratch.file.truncate(0)
            return None
        self.scratch.file.write(raw_data)
        self.md5.update(raw_data)
        self.sha256.update(raw_data)
        return None

    def file_complete(self, file_size: int) -> ScratchVideoUpload | None:
        if not self.active:
            return None
        assert self.scratch is not None
        self.scratch.file.flush()
        self.scratch.file.seek(0)
        refused = self.too_large or self.too_many
        upload = ScratchVideoUpload(
            self.scratch, size=0 if refused else file_size, md5="" if refused else self.md5.hexdigest(),
            sha256="" if refused else self.sha256.hexdigest(), too_large=self.too_large, too_many=self.too_many,
            content_type=self.content_type, field_name=self.field_name)
        self.scratch = None
        self.active = False
        return upload
