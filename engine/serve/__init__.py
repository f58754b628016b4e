"""The HTTP service: the JSON API for portals and pages for people, on Starlette and uvicorn.

    settings  -> backend (every call into the engine) -> decision_log, form, testcase, openapi
              -> http (limits, bodies) -> api, views, pages -> app (create_app) -> command (kmo-rules serve)

Only `command` is imported by the CLI; it imports Starlette and uvicorn when
the command runs, so the rest of kmo-rules works without the `serve` extra.
"""
