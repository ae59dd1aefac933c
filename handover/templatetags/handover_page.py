from html import escape

from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

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
