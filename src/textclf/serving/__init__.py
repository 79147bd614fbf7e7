"""The REST server (``textclf serve``) and its scale-out on Ray Serve.

Modules: :mod:`.settings` (limits, batching, auth), :mod:`.batcher` (dynamic
micro-batching by a token budget), :mod:`.schemas` (request and response bodies),
:mod:`.predict` (what a request does around the model), :mod:`.metrics` (Prometheus),
:mod:`.app` (the FastAPI app), :mod:`.server` (uvicorn), :mod:`.ray` (Ray Serve).

Serving imports only inference and persistence below it (and their own dependencies),
never training, experiment tracking or tuning: a serving install needs none of them.
FastAPI, uvicorn and prometheus-client come with the ``serve`` extra; Ray with ``ray``.
"""
