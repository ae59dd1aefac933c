"""Whom a person may name: the start page's person selects, and the API's directory of people.

The start page offers, for each party of a new handover, the active people of that role (the
departing salesperson among those the starter may start for, the receivers among the eligible
ones). The directory shows each person the same people the start page would offer them, plus
their own department and the people of the procedure's reviewing roles they may need to name;
HR, managers, administrators and superusers see every active person. One rule, read by both.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from accounts.roles import Role

from .. import policy
from ..models import OPEN_STATES, Handover
from .visibility import eligible_receivers

# The roles anyone may need to name (a departing salesperson's supervisor, a witness, a manager,
# HR): shown to everyone, whatever their department.
NAMED_ROLES = [Role.SUPERVISOR, Role.WITNESS, Role.MANAGER, Role.HR]
# Those who see every active person (they start, oversee or administer anyone's handover).
SEE_EVERYONE = [Role.HR, Role.MANAGER, Role.ADMIN]


def people_with_role(role: str) -> QuerySet[User]:
    """The active people holding a role, in the order the selects list them."""
    return (
        User.objects.filter(is_active=True, groups__name=role)
        .select_related("department")
        .order_by("department__code", "full_name", "username")
        .distinct()
    )


def departing_choices(user) -> QuerySet[User]:
    """Whose handover this person may start: active salespeople not leaving already, and for a
    supervisor (not HR) only their own people (policy.own_people)."""
    leaving = Handover.objects.filter(state__in=OPEN_STATES).values("departing")
    departing = people_with_role(Role.SALES).exclude(pk__in=leaving)
    if not policy.may_start_for_anyone(user):
        departing = departing.filter(policy.own_people(user))
    return departing


def people_visible_to(user) -> QuerySet[User]:
    """The active people this person may look up (the API's people directory)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return User.objects.none()
    active = User.objects.filter(is_active=True)
    if user.is_superuser or any(user.has_role(role) for role in SEE_EVERYONE):
        return active
    named = User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name__in=NAMED_ROLES)
    condition = Q(pk=user.pk) | Exists(named)
    if user.department_id:
        condition |= Q(department_id=user.department_id)
    if policy.may_start_handover(user):
        # Whom the start page offers them: the people they may start for, and the receivers.
        condition |= Q(pk__in=departing_choices(user).values("pk")) | Q(pk__in=eligible_receivers().values("pk"))
    return active.filter(condition)


def people_search(user, *, q: str = "", role: str = "", department: int | None = None) -> QuerySet[User]:
    """people_visible_to, searched by name or employee number, filtered by role and department."""
    people = people_visible_to(user)
    if q:
        people = people.filter(
            Q(full_name__icontains=q)
            | Q(username__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(employee_no__icontains=q)
        )
    if role:
        people = people.filter(Exists(User.groups.through.objects.filter(user_id=OuterRef("pk"), group__name=role)))
    if department is not None:
        people = people.filter(department_id=department)
    return people.select_related("department").prefetch_related("groups").order_by("full_name", "username", "pk")
