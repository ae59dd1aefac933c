from django.shortcuts import get_object_or_404, render

from .selectors import clients_visible_to


def client_list(request):
    clients = clients_visible_to(request.user).select_related("owner")[:50]
    return render(request, "clients/client_list.html", {"clients": clients})


def client_detail(request, pk: int):
    client = get_object_or_404(clients_visible_to(request.user).select_related("owner"), pk=pk)
    return render(request, "clients/client_detail.html", {"client": client})
