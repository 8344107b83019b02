"""Forms of the victim's pages: they only translate what was typed into values the services take."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from detection.signals import hash_value_clean
from takedown.cases.locations import NormalisedURL, urls_normalise
from takedown.cases.models import Authority, ContentKind
from victims.images import ImageRefused, image_inspect
from victims.services import DeviceHash, UploadedImage

MAX_URLS = 50
MAX_IMAGES = 10
MAX_DESCRIPTION = 2000
MAX_MESSAGE = 4000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class ImagesField(forms.FileField):
    """Several image files in one input; each is checked now so the person learns at once what is wrong."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}))
        super().__init__(**kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedImage]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            if self.required:
                raise forms.ValidationError(_("Choose at least one image."), code="required")
            return []
        if len(files) > MAX_IMAGES:
            raise forms.ValidationError(
                _("Choose at most %(limit)d images at a time.") % {"limit": MAX_IMAGES}, code="too-many")
        images: list[UploadedImage] = []
        errors: list[forms.ValidationError] = []
        for number, upload in enumerate(files, start=1):
            try:
                images.append(self._read(upload))
            except ImageRefused as refused:
                # Numbered, not named: the original file name is never echoed back or stored.
                errors.append(forms.ValidationError(
                    _("Image %(number)d: %(problem)s") % {"number": number, "problem": refused.message},
                    code=refused.code))
        if errors:
            raise forms.ValidationError(errors)
        return images

    @staticmethod
    def _read(upload: UploadedFile) -> UploadedImage:
        limit = settings.MAX_UPLOAD_BYTES
        if getattr(upload, "too_large", False) or (upload.size or 0) > limit:
            raise ImageRefused(_("This file is larger than %(mb)d MB.") % {"mb": limit // (1024 * 1024)},
                               code="too-large")
        upload.seek(0)
        data = upload.read()
        return UploadedImage(data=data, inspected=image_inspect(data, max_bytes=limit))


class URLsField(forms.CharField):
    """One address per line; each is checked, normalised and de-duplicated (takedown.cases.locations)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false",
                                                         "autocapitalize": "none", "inputmode": "url"}))
        kwargs.setdefault("max_length", MAX_URLS * 2100)
        kwargs.setdefault("error_messages", {"required": _("Enter at least one web address.")})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[NormalisedURL]:
        text = super().clean(value)
        lines = [line for line in re.split(r"[\r\n]+", text or "") if line.strip()]
        if not lines:
            if self.required:
                raise forms.ValidationError(_("Enter at least one web address."), code="required")
            return []
        if len(lines) > MAX_URLS:
            raise forms.ValidationError(
                _("Enter at most %(limit)d addresses at a time (you entered %(count)d). Send the rest later from "
                  "your case page.") % {"limit": MAX_URLS, "count": len(lines)}, code="too-many")
        batch = urls_normalise(lines)
        if batch.errors:
            raise forms.ValidationError([
                forms.ValidationError(_("Line %(line)d (%(text)s): %(problem)s")
                                      % {"line": e.line, "text": e.text[:60], "problem": e.message}, code=e.code)
                for e in batch.errors
            ])
        return batch.urls


class DeviceHashesField(forms.CharField):
    """The JSON the page's script writes after hashing on the device: [{sha256, pdq, quality, width, height}]."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_IMAGES * 400)
        # The person sees "The images" beside an error, never the field's name in English.
        kwargs.setdefault("label", _("The images"))
        kwargs.setdefault("error_messages", {
            "required": _("Choose your images and let this page make their fingerprints first."),
            "max_length": _("The fingerprints from this page could not be read. Try again.")})
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[DeviceHash]:
        text = super().clean(value)
        if not text:
            if self.required:
                raise forms.ValidationError(_("Choose your images and let this page make their fingerprints first."),
                                            code="required")
            return []
        try:
            items = json.loads(text)
        except (ValueError, RecursionError):  # deep nesting ("[[[[...") exhausts the parser's recursion limit
            raise forms.ValidationError(_("The fingerprints from this page could not be read. Try again."),
                                        code="invalid") from None
        if not isinstance(items, list) or not items:
            raise forms.ValidationError(_("The fingerprints from this page could not be read. Try again."),
                                        code="invalid")
        if len(items) > MAX_IMAGES:
            raise forms.ValidationError(
                _("Choose at most %(limit)d images at a time.") % {"limit": MAX_IMAGES}, code="too-many")
        hashes: list[DeviceHash] = []
        seen: set[str] = set()
        for item in items:
            device_hash = self._one(item)
            if device_hash.sha256 not in seen:
                seen.add(device_hash.sha256)
                hashes.append(device_hash)
        return hashes

    @staticmethod
    def _one(item: Any) -> DeviceHash:
        bad = forms.ValidationError(_("The fingerprints from this page could not be read. Try again."), code="invalid")
        if not isinstance(item, dict):
            raise bad
        raw_sha256, raw_pdq = item.get("sha256"), item.get("pdq") or ""
        # Our own page sends bare hex: anything around it (a trailing newline, ...) is not a hash we made.
        if any(isinstance(raw, str) and raw != raw.strip() for raw in (raw_sha256, raw_pdq)):
            raise bad
        try:
            sha256 = hash_value_clean("sha256", raw_sha256)
            pdq = hash_value_clean("pdq", raw_pdq) if raw_pdq else ""
        except ValueError as exc:
            raise bad from exc
        quality = item.get("quality")
        width, height = item.get("width"), item.get("height")
        # bool is an int to Python, but `true` is not a quality or a size.
        if quality is not None and (type(quality) is not int or not 0 <= quality <= 100):
            raise bad
        for size in (width, height):
            if size is not None and (type(size) is not int or not 0 < size < 1_000_000):
                raise bad
        return DeviceHash(sha256=sha256, pdq=pdq, pdq_quality=quality if pdq else None, width=width, height=height)


class DescribedForm(forms.Form):
    """Ties help text and errors to their inputs (aria-describedby, aria-invalid) for screen readers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}_help"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            field = self.fields.get(name)
            if field is None:
                continue
            described = field.widget.attrs.get("aria-describedby", "")
            field.widget.attrs["aria-describedby"] = f"{described} id_{name}_errors".strip()
            field.widget.attrs["aria-invalid"] = "true"


class ReportForm(DescribedForm):
    """What a removal request needs (TAKE IT DOWN Act): the images, where they are, good faith, a signature."""

    content_kind = forms.ChoiceField(
        label=_("What kind of image is it?"), choices=ContentKind.choices, widget=forms.RadioSelect,
        initial=ContentKind.UNSURE)
    urls = URLsField(
        label=_("Where is it online?"),
        help_text=_("Paste the web address of each page or image, one per line. You can add more later."))
    description = forms.CharField(
        label=_("Anything else we should know (optional)"), required=False, max_length=MAX_DESCRIPTION,
        help_text=_("For example apps or groups where it was shared without a link. Do not write your name."),
        widget=forms.Textarea(attrs={"rows": 3}))
    authority = forms.ChoiceField(
        label=_("Who are you?"), choices=Authority.choices, widget=forms.RadioSelect,
        help_text=_("You can report for yourself, or for someone you act for. The requests say which."),
        error_messages={"required": _("Choose whether you are the person shown or act for them.")})
    good_faith = forms.BooleanField(
        label=_("I believe in good faith that this image was shared without consent of the person shown, and "
                "that what I have written is accurate."),
        error_messages={"required": _("Tick this box to confirm. A removal request cannot be sent without it.")})
    authorise_agent = forms.BooleanField(
        required=False,
        label=_("I authorise the operator of this service to ask websites to remove the images and search engines "
                "to drop them from their results, on behalf of the person shown, as their agent, and to receive "
                "the replies."),
        help_text=_("Without this we still review your report and can block copies on partner platforms with the "
                    "images' fingerprints, but we ask no website or search engine to remove anything for you."))
    signature = forms.CharField(
        label=_("Your electronic signature"), max_length=200,
        help_text=_("Type your initials or a name you choose. Our requests to websites and search engines are signed "
                    "with it (as /s/ and what you type), so they will see it. It is stored encrypted."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("Type a signature: your initials or a name you choose.")})
    contact = forms.CharField(
        label=_("Another way to reach you (optional)"), required=False, max_length=300,
        help_text=_("Leave empty to use only your case page. Stored encrypted; never shown to platforms."),
        widget=forms.TextInput(attrs={"autocomplete": "off"}))


class UploadReportForm(ReportForm):
    images = ImagesField(
        label=_("The images"),
        help_text=_("JPEG, PNG, WebP or GIF, up to 10 images. Location and camera details are removed before "
                    "anything is stored. Before removing them we only note whether the file says it was made or "
                    "edited by an AI tool (which tool, and who signed that label); never where or with what camera "
                    "it was taken."))

    field_order = ["images", "content_kind", "urls", "description", "authority", "good_faith", "authorise_agent",
                   "signature", "contact"]


class DeviceReportForm(ReportForm):
    device_hashes = DeviceHashesField()

    field_order = ["device_hashes", "content_kind", "urls", "description", "authority", "good_faith",
                   "authorise_agent", "signature", "contact"]


class AccessForm(DescribedForm):
    reference = forms.CharField(
        label=_("Case reference"), max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}))
    secret = forms.CharField(
        label=_("Secret"), max_length=80, strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}))


class ReceiptForm(forms.Form):
    reference = forms.CharField(max_length=40)
    secret = forms.CharField(max_length=80)


class ReceiptSavedForm(DescribedForm):
    saved = forms.BooleanField(
        label=_("I have saved my case reference and secret somewhere safe."),
        error_messages={"required": _("Save the reference and secret first (download, print or copy them), then "
                                      "tick this box. Without them nobody can open your case again.")})


class URLAddForm(DescribedForm):
    urls = URLsField(label=_("More web addresses"), help_text=_("One per line."))


class EvidenceForm(DescribedForm):
    """More images later, in either mode of the first report: the files (`images`) or device hashes only."""

    images = ImagesField(label=_("More images"), required=False)
    device_hashes = DeviceHashesField(required=False)
    mode = forms.ChoiceField(choices=[("upload", "upload"), ("device", "device")], required=False,
                             widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors and not cleaned.get("images") and not cleaned.get("device_hashes"):
            raise forms.ValidationError(_("Choose at least one image."), code="required")
        return cleaned


class MessageForm(DescribedForm):
    body = forms.CharField(label=_("Your message"), max_length=MAX_MESSAGE, widget=forms.Textarea(attrs={"rows": 4}),
                           help_text=_("Moderators see this message with your case pseudonym only."))


class WithdrawForm(DescribedForm):
    confirm = forms.BooleanField(
        label=_("I understand: my images will be deleted, their fingerprints withdrawn from every partner, and "
                "pending requests cancelled. This cannot be undone."),
        error_messages={"required": _("Tick this box to confirm the withdrawal.")})
    secret = forms.CharField(
        label=_("Your secret"), max_length=80, strip=True,
        help_text=_("The secret from your receipt (it starts with tds_). We ask again so that nobody else who "
                    "picks up this device can delete your case."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
        error_messages={"required": _("Type the secret from your receipt.")})


def urls_added_message(count: int) -> str:
    return ngettext("%(count)d address added.", "%(count)d addresses added.", count) % {"count": count}
