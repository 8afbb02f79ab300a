"""HTTP views of the sandbox app: the sandbox page and past experiments.

The live sandbox is driven over the websocket (sandbox.consumers); these views only
render pages and, for a guest, make the session token that names them as an owner.
Experiments are fetched through ``_get_experiment_for_owner``, which returns the
learner's own or raises 404, so an id in a URL reveals nothing of anyone else's.
"""

from __future__ import annotations

from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from sandbox.conf import SandboxLimits
from sandbox.models import Experiment, Sandbox
from sandbox.owners import owner_for_request

PAST_EXPERIMENTS_SHOWN = 10


def _get_experiment_for_owner(request: HttpRequest, pk: int) -> Experiment:
    owner = owner_for_request(request, create=False)
    if owner is None:
        raise Http404("No such experiment.")
    experiment = Experiment.of(owner).filter(pk=pk).first()
    if experiment is None:
        raise Http404("No such experiment.")
    return experiment


@require_safe
def sandbox_page(request: HttpRequest) -> HttpResponse:
    # Opening the page is asking for a sandbox: a guest gets their owner token here,
    # since the websocket cannot set the session cookie.
    owner = owner_for_request(request, create=True)
    assert owner is not None
    limits = SandboxLimits.from_settings()
    context = {
        "row": Sandbox.for_owner(owner),
        "experiments": Experiment.of(owner)[:PAST_EXPERIMENTS_SHOWN],
        "limits": limits,
        # A guest is offered only what a guest may start; bigger shapes need an account.
        "guest": owner.user_id is None,
        "idle_seconds": limits.guest_idle_seconds if owner.user_id is None else limits.idle_seconds,
        "shard_choices": range(1, (limits.guest_max_shards if owner.user_id is None else limits.max_shards) + 1),
        "replica_choices": range(
            0, (limits.guest_max_replicas if owner.user_id is None else limits.max_replicas) + 1
        ),
        "zones": ("az-a", "az-b", "az-c"),
    }
    return render(request, "sandbox/sandbox.html", context)


@require_POST
def claim_session(request: HttpRequest) -> HttpResponse:
    """Give a guest an owner token; lesson pages call this before their first Run.

    Also says whether this server can open the sandbox's websocket at all: only the
    ASGI application (daphne) serves websockets; the same site behind a WSGI server
    (memorydb_lab.wsgi, or Django's test live server) has no sandbox, and the page
    then falls back to copying the commands instead of failing a handshake.
    """
    owner_for_request(request, create=True)
    return JsonResponse({"websocket": isinstance(request, ASGIRequest)})


@require_safe
def experiment_list(request: HttpRequest) -> HttpResponse:
    owner = owner_for_request(request, create=False)
    experiments = Experiment.of(owner) if owner is not None else Experiment.objects.none()
    return render(request, "sandbox/experiments.html", {"experiments": experiments})


@require_safe
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = _get_experiment_for_owner(request, pk)
    return render(request, "sandbox/experiment.html", {"experiment": experiment})
