from django import forms
from django.utils.translation import gettext_lazy as _


class StaffLoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150, widget=forms.TextInput(
        attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(label=_("Password"), max_length=512, strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password"}))
    otp_token = forms.RegexField(
        label=_("Authenticator code"),
        regex=r"^\d{6,8}$",
        max_length=8,
        error_messages={"invalid": _("Enter the 6-digit code from your authenticator app.")},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
