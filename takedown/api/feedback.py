"""What a partner did about a hash or a removal request (the `feedback` scope)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from takedown.api.base import PartnerAPIView
from takedown.api.errors import ApiError
from takedown.api.hashes import hash_clean, signal_type_clean
from takedown.api.lookup import EXAMPLE_PDQ
from takedown.api.schema import ERROR_RESPONSES
from takedown.partners.models import NATIVE_FEEDBACK_VALUES, Scope
from takedown.partners.services import PartnerError, feedback_record


class FeedbackView(PartnerAPIView):
    required_scope = Scope.FEEDBACK

    class InputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FeedbackRequest"

        feedback = serializers.CharField(max_length=20, help_text=" | ".join(NATIVE_FEEDBACK_VALUES))
        signal_type = serializers.CharField(required=False, max_length=20)
        hash = serializers.CharField(required=False, max_length=200)
        removal_request_id = serializers.UUIDField(required=False)
        note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True)

        def validate_note(self, value: str) -> str:
            if len(value) > settings.PARTNER_FEEDBACK_NOTE_MAX:
                raise serializers.ValidationError(
                    f"a note is at most {settings.PARTNER_FEEDBACK_NOTE_MAX} characters", code="note_too_long")
            return value

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["feedback"] not in NATIVE_FEEDBACK_VALUES:
                raise serializers.ValidationError({"feedback": serializers.ErrorDetail(
                    f"feedback is one of {', '.join(NATIVE_FEEDBACK_VALUES)}", code="unknown_feedback_value")})
            has_hash = "hash" in attrs or "signal_type" in attrs
            if not has_hash and "removal_request_id" not in attrs:
                raise serializers.ValidationError({"hash": serializers.ErrorDetail(
                    "give signal_type and hash, or removal_request_id, or both", code="required")})
            if has_hash:
                if "hash" not in attrs or "signal_type" not in attrs:
                    missing = "hash" if "hash" not in attrs else "signal_type"
                    raise serializers.ValidationError({missing: serializers.ErrorDetail(
                        "signal_type and hash go together", code="required")})
                try:
                    attrs["signal_type"] = signal_type_clean(attrs["signal_type"])
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({"signal_type": exc.detail}) from None
                try:
                    attrs["hash"] = hash_clean(attrs["signal_type"], attrs["hash"])
                except serializers.ValidationError as exc:
                    raise serializers.ValidationError({"hash": exc.detail}) from None
            return attrs

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "FeedbackResponse"

        id = serializers.UUIDField()
        feedback = serializers.CharField()
        entry_id = serializers.IntegerField(allow_null=True)
        removal_request_id = serializers.UUIDField(allow_null=True)
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="feedback_submit",
        summary="Report what you did about a hash or a removal request",
        description="`feedback` is Blocked, NotBlocked, Removed, NotFound or Disputed, with an optional `note` "
                    "(at most 1,000 characters; moderators read it). Give the hash (`signal_type` + `hash`, as in "
                    "the bank), or the `removal_request_id` you were sent, or both. A hash the bank does not hold "
                    "is 404 `unknown_hash`; a removal request not sent to you is 404 `unknown_removal_request`. "
                    "Needs the `feedback` scope.",
        request=InputSerializer,
        responses={201: OutputSerializer, 404: ERROR_RESPONSES[400], **ERROR_RESPONSES},
        examples=[
            OpenApiExample("Blocked a hash", request_only=True,
                           value={"signal_type": "pdq", "hash": EXAMPLE_PDQ, "feedback": "Blocked"}),
            OpenApiExample("Removed, for a removal request", request_only=True, value={
                "removal_request_id": "1f0c8a52-4b0e-4f0a-9f7e-2d1e8d3c6b11", "feedback": "Removed",
                "note": "removed 3 copies"}),
            OpenApiExample("Recorded", response_only=True, status_codes=["201"], value={
                "id": "9b2d5a4e-6f3c-4c1b-8e0d-7a6b5c4d3e2f", "feedback": "Blocked", "entry_id": 4182,
                "removal_request_id": None, "created_at": "2026-05-20T10:00:00Z"}),
        ],
        tags=["feedback"],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = data.validated_data
        entry = None
        if "hash" in query:
            found = self.bank().entries_find(signal_type=query["signal_type"], values=[query["hash"]])
            entry = found.get(query["hash"])
            if entry is None:
                raise ApiError("unknown_hash", "the bank holds no such hash", status.HTTP_404_NOT_FOUND)
        try:
            feedback = feedback_record(partner=self.partner(request), value=query["feedback"],
                                       note=query.get("note", ""), entry=entry,
                                       removal_request_id=query.get("removal_request_id"))
        except PartnerError as exc:
            code = status.HTTP_404_NOT_FOUND if exc.code == "unknown_removal_request" else status.HTTP_400_BAD_REQUEST
            raise ApiError(exc.code, str(exc), code) from None
        return Response({"id": feedback.id, "feedback": feedback.value, "entry_id": feedback.bank_entry_id,
                         "removal_request_id": feedback.removal_request_id, "created_at": feedback.created_at},
                        status=status.HTTP_201_CREATED)
