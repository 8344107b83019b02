from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from takedown.moderation.models import DecisionKind


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=DecisionKind.choices, widget=forms.RadioSelect)
    reason = forms.CharField(required=False, max_length=2000, widget=forms.Textarea,
                             label=_("Reason for a rejection (the person reads it and can answer)"))
    message = forms.CharField(required=False, max_length=2000, widget=forms.Textarea,
                              label=_("What information is needed (the person reads it)"))


class SecondReviewForm(forms.Form):
    verdict = forms.ChoiceField(choices=[("uphold", _("Uphold the rejection")),
                                         ("overturn", _("Overturn it: review the case again"))],
                                widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=300)


class MessageCloseForm(forms.Form):
    reason = forms.CharField(max_length=300, label=_("Close without a reply: why does this message need none?"))


class ReplyForm(forms.Form):
    body = forms.CharField(max_length=4000, widget=forms.Textarea, label=_("Reply to the person"))
