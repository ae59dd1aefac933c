from django.utils.functional import SimpleLazyObject

from .selectors import unread_count


def notifications(request):
    """The bell's unread count, queried only if a page shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
