"""``oftsr-edge doctor``: what this machine can run and what to do next (docs/jetson.md walks through it).

- :mod:`.probe` — the facts, each from one guarded probe (never raises).
- :mod:`.advice` — facts → device, memory preset, what runs where, the next commands (pure).
- :mod:`.report` — the text screen and the JSON document.
- :mod:`.command` — the click command.

Deployed-side code: it imports the runtime only (never torch, onnx, export or train), so it runs on a Jetson with
the base install.
"""
