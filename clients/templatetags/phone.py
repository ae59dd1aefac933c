from django import template
from django.utils.html import format_html

from ..phones import tel_href

register = template.Library()


@register.filter
def tel_link(phone) -> str:
    """{{ contact.phone|tel_link }}: the number as a tel: link (phones dial it), or the text as it is."""
    href = tel_href(str(phone or ""))
    if not href:
        return phone or ""
    return format_html('<a href="{}" class="tel">{}</a>', href, phone)
