"""Confirm the case filed with a marker URL as a moderator would: its removal request is queued in that commit."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser

from takedown.cases.models import Case
from takedown.core.roles import MODERATOR, roles_ensure
from takedown.moderation.models import DecisionKind, ReviewItem
from takedown.moderation.services import moderation_claim, moderation_decide
from takedown.remedies.models import RequestKind


class Command(BaseCommand):
    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--marker", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        case = Case.objects.get(urls__url=f"https://fault.example.org/{options['marker']}")
        user = User.objects.filter(username="fault-moderator").first()
        if user is None:
            user = User.objects.create_user(username="fault-moderator", password=None)
            user.groups.set([roles_ensure()[MODERATOR]])
        item = ReviewItem.objects.filter(case=case).order_by("created_at").first()
        assert item is not None
        moderation_claim(item_id=item.id, user=user)
        moderation_decide(item_id=item.id, user=user, decision=DecisionKind.CONFIRM)
        removals = case.remedy_requests.filter(kind=RequestKind.REMOVAL)
        self.stdout.write(json.dumps([{"id": str(r.id), "channel": r.channel} for r in removals]))
