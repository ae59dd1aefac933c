"""Search, filters and sorting of the client list, shared by the page and the export.

Both take an already visible queryset from clients_visible_to(), so a filter can only
narrow what the viewer may see, never widen it.
"""

import html
import json
from dataclasses import dataclass

from django import forms
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from .models import Client, Contact, Grade
from .selectors import clients_with_totals, industries_of
from .validators import CREDIT_CODE_CHARS

PAGE_SIZE = 25
# The list counts its rows up to this many (or just past the page asked for): an exact COUNT of
# a million-client book on every request cost more than the page itself. Above it: "1,000+".
COUNT_CAP = 1000

# Sort key -> ORDER BY; pk last so pages never overlap when the values tie.
SORTS: dict[str, tuple[str, ...]] = {
    "name": ("name", "pk"),
    "grade": ("grade", "name", "pk"),
    "owner": ("owner__full_name", "owner__username", "name", "pk"),
    "outstanding": ("outstanding", "name", "pk"),
    "contract_amount": ("contract_amount", "name", "pk"),
}
SORT_CHOICES = [(key, key) for key in SORTS] + [(f"-{key}", f"-{key}") for key in SORTS]
DEFAULT_SORT = "name"


class FlagCheckbox(forms.CheckboxInput):
    # Django's CheckboxInput reads any non-empty value, "0" included, as checked; a
    # hand-written or bookmarked ?overdue=0 must mean "no filter".
    def value_from_datadict(self, data, files, name) -> bool:
        return data.get(name) in {"1", "on", "true", "True"}


class PlainSelect(forms.Select):
    """forms.Select, the same HTML, written in Python rather than one template per option.

    A manager's owner filter offers every salesperson (2,000 of them): rendered option by
    option through Django's templates it took longer than all the page's queries together.
    No option groups (none of these selects has any).
    """

    def render(self, name, value, attrs=None, renderer=None):
        # Widget's context, not ChoiceWidget's: its optgroups() builds a dict per option first.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        wanted = set(widget["value"])  # ChoiceWidget.format_value: the selected values as strings
        parts = [format_html('<select name="{}"{}>', widget["name"], _attrs(widget["attrs"]))]
        has_selected = False
        for option_value, label in self.choices:
            if isinstance(label, list | tuple):
                raise ValueError("PlainSelect renders no option groups")
            option_value = "" if option_value is None else str(option_value)
            # As ChoiceWidget.optgroups: only the first matching option is selected.
            selected = not has_selected and option_value in wanted
            has_selected |= selected
            # html.escape, as Django's escape() does, without format_html's per-call overhead.
            parts.append(
                f'\n  <option value="{html.escape(option_value)}"{" selected" if selected else ""}>'
                f"{html.escape(str(label))}</option>\n"
            )
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value and label escaped above


def _attrs(attrs: dict) -> str:
    # As django/forms/widgets/attrs.html: False leaves the attribute out, True writes its name alone.
    return mark_safe(  # noqa: S308 - each name and value escaped by format_html
        "".join(
            format_html(" {}", name) if value is True else format_html(' {}="{}"', name, str(value))
            for name, value in attrs.items()
            if value is not False
        )
    )


class _OwnerChoices(forms.models.ModelChoiceIterator):
    """(id, name) rows rather than a User built for each option: a manager is offered 2,000."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        User = self.queryset.model
        for pk, *names in self.queryset.values_list("pk", *User.DISPLAY_NAME_FIELDS):
            yield (pk, User.display_name_of(*names))


class OwnerChoiceField(forms.ModelChoiceField):
    iterator = _OwnerChoices

    def label_from_instance(self, obj) -> str:
        return obj.display_name


class ClientFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"placeholder": _("Name, credit code or contact phone"), "class": "form-control form-control-sm"}
        ),
    )
    grade = forms.ChoiceField(
        label=_("grade"),
        required=False,
        choices=[("", _("All grades")), *Grade.choices],
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
    )
    industry = forms.ChoiceField(
        label=_("industry"), required=False, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )
    owner = OwnerChoiceField(
        label=_("owner"),
        required=False,
        queryset=get_user_model().objects.none(),
        empty_label=_("All owners"),
        widget=PlainSelect(attrs={"class": "form-select form-select-sm"}),
    )
    overdue = forms.BooleanField(
        label=_("Has overdue receivables"),
        required=False,
        widget=FlagCheckbox(attrs={"class": "form-check-input", "value": "1"}),
    )
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, widget=forms.HiddenInput)

    def __init__(self, data, *, visible: QuerySet[Client]):
        super().__init__(data)
        # Choices come from the viewer's own book: offering another team's owner or
        # industry would leak who and what exists outside it.
        # From the small users table, each asking the client index whether it owns a visible client.
        self.fields["owner"].queryset = (
            get_user_model()
            .objects.filter(Exists(visible.filter(owner=OuterRef("pk"))))
            .only("pk", *get_user_model().DISPLAY_NAME_FIELDS)  # what display_name reads
            .order_by("full_name", "username")
        )
        self.fields["industry"].choices = [("", _("All industries")), *((i, i) for i in industries_of(visible))]

    @property
    def current_sort(self) -> str:
        return self.valid_values().get("sort") or DEFAULT_SORT

    def sort_links(self) -> dict[str, dict[str, str]]:
        """For each sortable column: the sort value its header links to and its current direction."""
        current = self.current_sort
        links = {}
        for key in SORTS:
            direction = "asc" if current == key else "desc" if current == f"-{key}" else ""
            links[key] = {"param": f"-{key}" if direction == "asc" else key, "direction": direction}
        return links

    def valid_values(self) -> dict:
        """The cleaned value of every field that is valid; a bad value is ignored, not an error page."""
        self.is_valid()
        return self.cleaned_data


class CappedPaginator(Paginator):
    """A Paginator that counts the rows only up to COUNT_CAP, or one past the page asked for.

    Under the cap the count is exact (and the "Last" link right); above it count_is_capped is
    set, the count includes one row past the page asked for so that "Next" still shows, and
    pages further on stay reachable one "Next" at a time.
    """

    def __init__(self, object_list, per_page, *, page_number=None, cap: int | None = None):
        super().__init__(object_list, per_page)
        cap = COUNT_CAP if cap is None else cap
        try:
            wanted = max(int(page_number), 1)
        except (TypeError, ValueError):
            wanted = 1
        self.count_limit = max(cap, wanted * per_page) + 1

    @property
    def count(self) -> int:
        if not hasattr(self, "_capped_count"):
            rows = self.object_list.order_by().values("pk")[: self.count_limit]
            self._capped_count = rows.count()
        return self._capped_count

    @property
    def count_is_capped(self) -> bool:
        return self.count >= self.count_limit

    @property
    def count_shown(self) -> int:
        """The number to print: the exact count, or the cap it passed ("1,000+")."""
        return self.count_limit - 1 if self.count_is_capped else self.count


class _NameBigramsContain(Func):
    """client_name_bigrams(name) @> client_name_bigrams(fragment): the GIN index of migration 0006."""

    template = "client_name_bigrams(%(expressions)s)"
    arg_joiner = ") @> client_name_bigrams("
    output_field = BooleanField()


@dataclass(frozen=True)
class _LookUp:
    """One way a client can match: the ids of its matches, which an index serves on its own, and
    the same test as a condition on each client row."""

    ids: QuerySet
    row: Q


def _look_ups(q: str) -> list[_LookUp]:
    by_name = Client.objects.filter(name__icontains=q).order_by().values_list("pk", flat=True)
    by_phone = Contact.objects.filter(phone__contains=q).order_by().values_list("client_id", flat=True)
    if len(q) == 2 and connection.vendor == "postgresql":
        # Too short for trigrams: the bigram indexes find the candidates, the LIKE re-checks them.
        by_name = by_name.filter(_NameBigramsContain(F("name"), Value(q)))
        by_phone = by_phone.filter(_NameBigramsContain(F("phone"), Value(q)))
    look_ups = [_LookUp(by_name, Q(name__icontains=q))]
    if _could_be_in_a_code(q):
        by_code = Client.objects.filter(credit_code__icontains=q).order_by().values_list("pk", flat=True)
        look_ups.append(_LookUp(by_code, Q(credit_code__icontains=q)))
    phone_row = Q(Exists(Contact.objects.filter(client=OuterRef("pk"), phone__contains=q)))
    look_ups.append(_LookUp(by_phone, phone_row))
    return look_ups


def search_matches(q: str, *, all: bool = False) -> QuerySet:  # noqa: A002 - as QuerySet.union names it
    """The ids of the clients whose name, credit code or a contact's phone contains q.

    A union of look-ups, each of which an index can serve on its own; OR-ed together in one
    WHERE, with the phone behind an EXISTS, no index could and every client was read.
    """
    first, *others = (look_up.ids for look_up in _look_ups(q))
    return first.union(*others, all=all)


def _could_be_in_a_code(q: str) -> bool:
    # A character without case that no credit code may hold (the client_credit_code_format
    # constraint), 科 say: the code look-up cannot match, and would read every client.
    return not any(c not in CREDIT_CODE_CHARS and c.upper() == c.lower() == c for c in q)


# A fragment found in more clients than this is common (科技 is in about one name in six): the
# list then walks the clients in its sort order and keeps those that match, which finds a page
# of them in a few thousand rows; gathering every match first (the indexes' way, right for a
# rare fragment) read a hundred thousand rows or more, twice (the count and the page).
COMMON_FRAGMENT = 2000


def search_condition(q: str) -> Q:
    """The list's search as a filter: each look-up's matching ids when they are few, the row-by-row
    test for a look-up whose matches are many.

    Decided look-up by look-up: 科技 is in a sixth of the names and in no phone number, so the
    names are tested row by row and the phones by their few ids. Testing the phones row by row
    as well made PostgreSQL read every contact once per query to hash the few that match.
    """
    ids: set[int] = set()
    rows: list[Q] = []
    for look_up in _look_ups(q):
        found = _few_matches(look_up.ids)
        if found is None:
            rows.append(look_up.row)
        else:
            ids.update(found)
    condition = Q(pk__in=_id_list(sorted(ids))) if ids or not rows else Q()
    for row in rows:
        condition |= row
    return condition


def _few_matches(ids: QuerySet) -> list[int] | None:
    """The ids a look-up finds, or None when they are more than COMMON_FRAGMENT."""
    if _estimated_rows(ids) > COMMON_FRAGMENT * 4:
        # Gathering the matches only to learn that they are many cost a bigram index 40 ms at a
        # million clients; the planner's statistics tell as much (four times over: its guess
        # for a rare fragment errs high, and a wrong "rare" only costs the probe below).
        return None
    probe = list(ids[: COMMON_FRAGMENT + 1])
    return None if len(probe) > COMMON_FRAGMENT else probe


def _estimated_rows(queryset: QuerySet) -> float:
    """The planner's estimate of the rows a query returns (PostgreSQL), or 0 where unknown."""
    if connection.vendor != "postgresql":
        return 0
    plan = queryset.explain(format="json")
    if isinstance(plan, str):
        plan = json.loads(plan)
    return float(plan[0]["Plan"]["Plan Rows"])


def _id_list(ids: list[int]):
    """The ids for pk__in. On PostgreSQL as the rows of an array: given the literal list, the
    planner guessed the matches spread evenly and walked the whole name index for a page of
    them (140 ms for a thousand ids at a million clients); from unnest() it looks each id up."""
    if connection.vendor != "postgresql" or not ids:
        return ids
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def filter_clients(visible: QuerySet[Client], params: QueryDict) -> tuple[ClientFilterForm, QuerySet[Client]]:
    """Apply the GET parameters q, grade, industry, owner, overdue and sort to a visible queryset."""
    form = ClientFilterForm(params, visible=visible)
    values = form.valid_values()
    clients = clients_with_totals(visible).select_related("owner")

    if q := (values.get("q") or "").strip():
        clients = clients.filter(search_condition(q))
    if grade := values.get("grade"):
        clients = clients.filter(grade=grade)
    if industry := values.get("industry"):
        clients = clients.filter(industry=industry)
    if owner := values.get("owner"):
        clients = clients.filter(owner=owner)
    if values.get("overdue"):
        clients = clients.filter(has_overdue=True)

    sort = form.current_sort
    descending = sort.startswith("-")
    order = SORTS[sort.lstrip("-")]
    if descending:
        order = tuple(f"-{field}" for field in order)
    return form, clients.order_by(*order)
