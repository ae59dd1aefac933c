"""Search, filters and sorting of the client list, shared by the page and the export.

Both take an already visible queryset from clients_visible_to(), so a filter can only
narrow what the viewer may see, never widen it.
"""

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from .models import Client, Contact, Grade
from .selectors import clients_with_totals

PAGE_SIZE = 25

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


class OwnerChoiceField(forms.ModelChoiceField):
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
        widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
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
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(pk__in=visible.values("owner_id")).order_by("full_name", "username")
        )
        industries = visible.exclude(industry="").order_by("industry").values_list("industry", flat=True).distinct()
        self.fields["industry"].choices = [("", _("All industries")), *((i, i) for i in industries)]

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


def filter_clients(visible: QuerySet[Client], params: QueryDict) -> tuple[ClientFilterForm, QuerySet[Client]]:
    """Apply the GET parameters q, grade, industry, owner, overdue and sort to a visible queryset."""
    form = ClientFilterForm(params, visible=visible)
    values = form.valid_values()
    clients = clients_with_totals(visible).select_related("owner")

    if q := (values.get("q") or "").strip():
        clients = clients.filter(
            Q(name__icontains=q)
            | Q(credit_code__icontains=q)
            | Exists(Contact.objects.filter(client=OuterRef("pk"), phone__contains=q))
        )
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
