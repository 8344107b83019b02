from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.utils.translation import gettext_lazy as _

from takedown.exports.services import GRANT_DAY_CHOICES

DAY_CHOICES = [(str(d), _("%(days)d days") % {"days": d}) for d in GRANT_DAY_CHOICES]
OTP_FIELD = {
    "label": _("Authenticator code"),
    "regex": r"^\d{6,8}$",
    "max_length": 8,
    "error_messages": {"invalid": _("Enter the 6-digit code from your authenticator app.")},
    "widget": forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
}


class GrantFieldsForm(forms.Form):
    """What the person decides when they give an advocate access: who, for how long, images, identity."""

    advocate_code = forms.CharField(
        label=_("Your advocate's code"), max_length=40,
        help_text=_("Your lawyer or caseworker gives you this code. It looks like ADV-XXXX-XXXX-XXXX-XXXX."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    days = forms.TypedChoiceField(label=_("How long they may see the case"), choices=DAY_CHOICES, coerce=int,
                                  initial="90")
    images_consented = forms.BooleanField(
        label=_("They may include my images in the court file"), required=False,
        help_text=_("Without this, the court file holds only the images' fingerprints (hashes), never the images."),
    )
    identity_for_court = forms.CharField(
        label=_("Identity for the court (optional)"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Only if your advocate asks for it. It is sealed so that only your advocate can open it, and "
                    "never appears in the court file's readable pages."),
    )


class StatusGrantForm(GrantFieldsForm):
    """On the status page the case is open already; giving access still asks for the secret once more."""

    secret = forms.CharField(
        label=_("Your case secret, to confirm"), max_length=200, strip=True,
        help_text=_("Giving someone access to your case is a big step, so we ask for your secret again."),
        widget=forms.PasswordInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "none"}),
    )


class StatusRevokeForm(forms.Form):
    grant = forms.UUIDField(widget=forms.HiddenInput)


class ModeratorGrantForm(forms.Form):
    reference = forms.CharField(label=_("Court reference"), max_length=40)
    advocate = forms.ChoiceField(label=_("Advocate"))
    days = forms.TypedChoiceField(label=_("Access lasts"), choices=DAY_CHOICES, coerce=int, initial="30")
    request_document = forms.CharField(
        label=_("Documented request"), max_length=300, min_length=10,
        help_text=_("What the request is, its date and where it is filed (e.g. signed authority of 3 May, "
                    "ticket 1182)."),
    )

    def __init__(self, *args: Any, advocates: Sequence[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = []
        for user in advocates:
            profile = getattr(user, "advocate_profile", None)
            label = f"{profile.organisation} ({user.get_username()})" if profile else user.get_username()
            choices.append((str(user.pk), label))
        self.fields["advocate"].choices = choices  # type: ignore[attr-defined]


class ExportForm(forms.Form):
    otp_token = forms.RegexField(**OTP_FIELD)  # type: ignore[arg-type]
    include_images = forms.BooleanField(label=_("Include the image files"), required=False)


class AdvocateProfileForm(forms.Form):
    organisation = forms.CharField(label=_("Name the person will recognise"), max_length=120)
    annex_certificate = forms.CharField(
        label=_("Certificate for the sealed identity annex (PEM, RSA 2048 bits or more)"), required=False,
        max_length=20000, widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("Make one with: openssl req -x509 -newkey rsa:3072 -nodes -days 730 -subj '/CN=Your name' "
                    "-keyout advocate.key -out advocate.crt. Paste advocate.crt here; keep advocate.key private."),
    )
