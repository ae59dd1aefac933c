from html import escape

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from ..selectors.display import url_pattern
from ..selectors.page.workspace import plan_field_labels

register = template.Library()


class CaptureNode(template.Node):
    def __init__(self, nodelist, name: str):
        self.nodelist, self.name = nodelist, name

    def render(self, context) -> str:
        # The content is rendered (and so escaped) here, once; the variable holds finished HTML.
        context[self.name] = mark_safe(self.nodelist.render(context))  # noqa: S308
        return ""


@register.tag
def capture(parser, token):
    """{% capture name %}...{% endcapture %}: render a block once and reuse it as {{ name }}.

    The handover page repeats the same form fields (CSRF token, version, labels, buttons) for
    hundreds of clients and thousands of items; rendering them once instead of per row is what
    keeps a 500-client page within its time budget.
    """
    bits = token.split_contents()
    if len(bits) != 2:
        raise template.TemplateSyntaxError("usage: {% capture name %}...{% endcapture %}")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[1])


# ---------------------------------------------------------------------------------------
# The long rows of the handover page.
#
# A 500-client handover has some 2,000 checklist items and as many timeline events; rendered
# through the template engine, each row costs a dozen variable lookups and the page misses
# its time budget. These tags write the same markup in plain Python. Every value that comes
# from data is escaped here, exactly as the template engine would.


@register.simple_tag(takes_context=True)
def item_rows(context, items, show_receiver: bool = False) -> str:
    """The <tr> of each checklist item, with the buttons the viewer may press."""
    hand_over = context.get("hand_over_fields", "")
    confirm = context.get("confirm_fields", "")
    dispute_label = escape(str(context.get("t_dispute", "")))
    receiver_label = escape(str(context.get("t_receiver", "")))
    label_value = gettext("%(label)s: %(value)s")
    reply_label = escape(gettext("Reply"))
    select_label = escape(gettext("Select to confirm"))
    rows = []
    for it in items:
        detail = f'<div class="small text-muted">{escape(it.detail)}</div>' if it.detail else ""
        receiver = (
            f'<div class="small">{label_value % {"label": receiver_label, "value": escape(it.receiver_name)}}</div>'
            if show_receiver
            else ""
        )
        reason = (
            f'<div class="small text-danger dispute-reason">{escape(it.dispute_reason)}</div>'
            if it.dispute_reason
            else ""
        )
        reply_text = getattr(it, "dispute_reply", "")
        if reply_text:
            reason += (
                f'<div class="small dispute-reply">'
                f"{label_value % {'label': reply_label, 'value': escape(reply_text)}}</div>"
            )
        actions = ""
        if it.hand_over_url:
            actions += f'<form method="post" action="{escape(it.hand_over_url)}" class="d-inline">{hand_over}</form>'
        if it.confirm_url:
            actions += (
                # Ticked rows are confirmed together by the form #confirm-selected (_confirm_selected.html).
                f'<input type="checkbox" class="form-check-input me-1 item-select" name="items" value="{it.pk}"'
                f' form="confirm-selected" aria-label="{select_label}">'
                f'<form method="post" action="{escape(it.confirm_url)}" class="d-inline">{confirm}</form> '
                f'<a class="btn btn-sm btn-outline-danger py-0" href="{escape(it.dispute_url)}">{dispute_label}</a>'
            )
        rows.append(
            f'<tr id="item-{it.pk}" class="item" data-status="{escape(it.status)}">'
            f'<td class="small text-muted item-kind">{escape(it.kind_label)}</td>'
            f"<td>{escape(it.title)}{detail}{receiver}</td>"
            f'<td><span class="badge text-bg-{escape(it.status_style)} item-status">{escape(it.status_label)}</span>'
            f"{reason}</td>"
            f'<td class="text-end item-actions">{actions}</td></tr>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped


@register.simple_tag
def event_rows(events) -> str:
    """The <li> of each timeline event: when, who, what, from → to, and the comment."""
    rows = []
    for e in events:
        detail = f" · {escape(e.detail)}" if e.detail else ""
        move = (
            f' <span class="ms-1 state-move">{escape(e.from_label or "—")} → {escape(e.to_label)}</span>'
            if e.to_label
            else ""
        )
        comment = f'<div class="event-comment">{escape(e.comment).replace(chr(10), "<br>")}</div>' if e.comment else ""
        rows.append(
            f'<li class="list-group-item small event" data-kind="{escape(e.kind)}">'
            f'<span class="text-muted">{escape(e.at)}</span> <strong>{escape(e.actor)}</strong> · '
            f'<span class="event-label">{escape(e.label)}</span>{detail}{move}{comment}</li>'
        )
    return mark_safe("\n".join(rows))  # noqa: S308 - every value above is escaped


# ---------------------------------------------------------------------------------------
# The plan grid: one <tr> per client, its inputs named <prefix>-<id> (handover.views.PLAN_GRID_FIELDS).


def _plan_cell(row, short: str, name: str, label: str) -> str:
    return (
        f'<td><textarea name="{short}-{row.pk}"{_marks(row, name)} aria-label="{escape(label)}">'
        f"{escape(getattr(row, name))}</textarea></td>"
    )


def _marks(row, name: str) -> str:
    """A field's marks (prefilled, in error): the grid's CSS styles its fields without classes."""
    classes = " ".join(c for c, on in (("prefilled", name in row.prefilled), ("is-invalid", name in row.errors)) if on)
    return f' class="{classes}"' if classes else ""


def _plan_labels() -> dict:
    return {
        "sampled": gettext("sampled for the spot-check"),
        "left_book": gettext("No longer the departing salesperson's client"),
        "pick": gettext("select"),
        "save_row": gettext("Save"),
        "reload_row": gettext("Reload this row"),
        "prefilled": gettext("Prefilled: check and save"),
        "plan_gap": gettext("plan incomplete"),
        "fields": plan_field_labels(),
        **plan_field_labels(),
    }


@register.simple_tag
def plan_grid_rows(page, editable: bool = True, only=None, picking: bool = False) -> str:
    """The plan grid's rows: editable inputs, or the same table as text for everyone else.

    `only`: just this row (reloaded after a conflict); `picking`: each row has its checkbox for
    the receivers-in-bulk form (the departing person and the supervisor at the plan stage)."""
    rows = [only] if only is not None else page.plan_rows
    labels = _plan_labels()
    reload_pattern = url_pattern("handover:plan_row", page.handover.pk)
    page_number = page.content.page
    out = []
    for row in rows:
        badges = f' <span class="badge grade grade-{escape(row.grade_class)}">{escape(row.grade)}</span>'
        if row.in_sample:
            badges += f' <span class="badge text-bg-info sampled">{escape(labels["sampled"])}</span>'
        if row.left_book:
            badges += f' <span class="badge text-bg-danger left-book">{escape(labels["left_book"])}</span>'
        status = _plan_status(row, labels, reload_pattern, page_number)
        risk = risk_cell(row) if page.show_risk else ""
        row_class = "plan-row"
        if row.errors or row.conflict:
            row_class += " table-danger"
        elif row.prefilled:
            row_class += " prefilled-row"
        if not editable:
            # No grid form here: a ticked row goes with the receivers-in-bulk form, with its version.
            pick = (
                f'<td class="pick"><input type="checkbox" name="hc" value="{row.pk}" form="receivers-bulk" '
                f'aria-label="{escape(labels["pick"])} {escape(row.name)}">'
                f'<input type="hidden" name="v-{row.pk}" value="{row.row_version}" form="receivers-bulk"></td>'
                if picking
                else ""
            )
            cells = "".join(
                f'<td class="small plan-text">{escape(getattr(row, n)) or "—"}</td>'
                for n in ("current_status", "risks", "next_steps", "planned_visit_on")
            )
            out.append(
                f'<tr id="client-{row.pk}" class="{row_class}">{pick}<th scope="row">'
                f"{escape(row.name)}{badges}</th><td>{escape(row.receiver_name)}</td>{risk}"
                f"{cells}</tr>"
            )
            continue
        # In the grid form, a ticked row carries the version the grid keeps (v-<id>, replaced after
        # each row save), and the receivers-in-bulk buttons submit the grid form to their own URL.
        pick = (
            f'<td class="pick"><input type="checkbox" name="hc" value="{row.pk}" '
            f'aria-label="{escape(labels["pick"])} {escape(row.name)}"></td>'
            if picking
            else ""
        )
        # The row's save button is driven by static/js/grid.js (a click, or the focus leaving the
        # row): it posts the grid form's fields with only=<id> to the table's data-save-url.
        out.append(
            f'<tr id="client-{row.pk}" class="{row_class}" data-row="{row.pk}"'
            f"{' data-dirty' if row.dirty else ''}>{pick}"
            f'<th scope="row">{escape(row.name)}{badges}</th><td>{escape(row.receiver_name)}</td>{risk}'
            + _plan_cell(row, "s", "current_status", labels["current_status"])
            + _plan_cell(row, "k", "risks", labels["risks"])
            + _plan_cell(row, "n", "next_steps", labels["next_steps"])
            + f'<td><input type="date" name="d-{row.pk}" value="{escape(row.planned_visit_on)}"'
            f'{_marks(row, "planned_visit_on")} aria-label="{escape(labels["planned_visit_on"])}"></td>'
            f'<td><input type="hidden" name="v-{row.pk}" id="v-{row.pk}" value="{row.row_version}">'
            f'<input type="hidden" name="o-{row.pk}" id="o-{row.pk}" value="{escape(row.digest)}">'
            f'<button type="submit" name="only" value="{row.pk}" class="btn btn-sm btn-outline-primary row-save">'
            f"{escape(labels['save_row'])}</button>"
            f'<div id="st-{row.pk}" class="row-status" aria-live="polite">{status}</div></td></tr>'
        )
    return mark_safe("\n".join(out))  # noqa: S308 - every value above is escaped


def risk_cell(row) -> str:
    """A plan row's relationship risk: the level, and each factor's reason (selectors/risk.py).

    Styled by its data-risk in static/css/app.css rather than classes on each element: written 500
    times on a large plan, the classes alone were a fifth of the page's growth."""
    reasons = "".join(f"<li>{escape(r)}</li>" for r in row.risk_reasons)
    return (
        f'<td class="risk" data-risk="{escape(row.risk_level)}"><b>{escape(row.risk_display)}</b>'
        + (f"<ul>{reasons}</ul>" if reasons else "")
        + "</td>"
    )


def plan_error_lines(errors: dict, names: dict) -> str:
    return mark_safe(  # noqa: S308 - every value is escaped
        "".join(
            f'<div class="text-danger row-error" data-field="{escape(name)}">'
            f"{escape(names[name]) + '：' if name in names and str(names[name]) not in message else ''}"
            f"{escape(message)}</div>"
            for name, message in errors.items()
        )
    )


def _plan_status(row, labels, reload_pattern: str, page_number: int) -> str:
    if row.conflict:
        url = escape(reload_pattern.format(row.pk) + (f"?p={page_number}" if page_number > 1 else ""))
        return (
            f'<div class="text-danger row-conflict">{escape(row.errors.get("__all__", ""))}</div>'
            f'<button type="button" class="btn btn-sm btn-link p-0 row-reload" hx-get="{url}" '
            f'hx-target="#client-{row.pk}" hx-swap="outerHTML">{escape(labels["reload_row"])}</button>'
        )
    if row.errors:
        return plan_error_lines(row.errors, labels["fields"])
    if row.prefilled:
        return f'<span class="badge text-bg-warning prefilled-note">{escape(labels["prefilled"])}</span>'
    if not row.complete:
        return f'<span class="badge text-bg-secondary plan-gap">{escape(labels["plan_gap"])}</span>'
    return ""
