"""The court order form (the advocate's page is takedown.exports.court_orders). Input only."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from takedown.remedies.models import COURT_ORDER_MAX_BYTES, RequestKind


class CourtOrderForm(forms.Form):
    court = forms.CharField(label=_("Court"), max_length=200)
    docket_number = forms.CharField(label=_("Docket number"), max_length=100)
    order_date = forms.DateField(label=_("Date of the order"), widget=forms.DateInput(attrs={"type": "date"}))
    scope = forms.MultipleChoiceField(label=_("The order directs"), choices=RequestKind.choices,
                                      widget=forms.CheckboxSelectMultiple)
    document = forms.FileField(label=_("The order (PDF)"),
                               help_text=_("At most %(mb)d MB. Stored encrypted.")
                               % {"mb": COURT_ORDER_MAX_BYTES // (1024 * 1024)})
    otp_token = forms.RegexField(label=_("Authenticator code"), regex=r"^\d{6,8}$", max_length=8,
                                 error_messages={"invalid": _("Enter the 6-digit code from your authenticator app.")},
                                 widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                               "inputmode": "numeric"}))

    def clean_document(self) -> bytes:
        upload = self.cleaned_data["document"]
        if getattr(upload, "too_large", False):
            raise forms.ValidationError(_("The file is larger than %(mb)d MB.")
                                        % {"mb": COURT_ORDER_MAX_BYTES // (1024 * 1024)})
        upload.seek(0)
        data: bytes = upload.read()
        return data
