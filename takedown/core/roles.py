"""Staff roles. Victims have no account; partners are API clients; staff are Django users in one group each."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

MODERATOR = "moderator"
ADVOCATE = "advocate"
ADMIN = "admin"
ROLE_GROUPS = {MODERATOR: "Moderators", ADVOCATE: "Advocates", ADMIN: "Operator admins"}

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def roles_ensure() -> dict[str, Group]:
    return {role: Group.objects.get_or_create(name=name)[0] for role, name in ROLE_GROUPS.items()}


def user_role(user: AbstractBaseUser | AnonymousUser | None) -> str | None:
    """The one role of a signed-in staff user, or None. Admin outranks the others if groups overlap."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if getattr(user, "is_superuser", False):
        return ADMIN
    names = set(user.groups.values_list("name", flat=True))  # type: ignore[attr-defined]
    for role in (ADMIN, MODERATOR, ADVOCATE):
        if ROLE_GROUPS[role] in names:
            return role
    return None


def is_verified(user: Any) -> bool:
    """Signed in with the second factor during this session (django-otp)."""
    return bool(getattr(user, "is_verified", lambda: False)())


def staff_required(*roles: str) -> Callable[[View], View]:
    """Allow only staff of the given roles who signed in with their second factor.

    Anonymous or unverified users go to the sign-in page; a signed-in user of another role gets 403.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            user = request.user
            if not user.is_authenticated or not is_verified(user):
                return redirect_to_login(request.get_full_path())
            role = user_role(user)
            if role is None or (roles and role not in roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def role_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    verified = user is not None and is_verified(user)
    return {"staff_role": user_role(user) if verified else None}
