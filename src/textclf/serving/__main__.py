"""``python -m textclf.serving SPEC``: the process ``textclf serve`` becomes.

The CLI and the server are both edges of the package and never import each other, so
``textclf serve`` replaces itself (``os.execv``) with this entry point and passes its
options as one JSON argument: ``model_dir``, ``host``, ``port``, ``workers``,
``graceful_timeout_s``, ``threads``, ``ray``, ``replicas``, ``log_level``, ``debug`` and ``settings``
(the fields of :class:`textclf.serving.settings.ServeSettings`). Signals then reach
uvicorn directly, and its exit code is the command's.

Errors a user can fix print one line and exit with code 2, as the CLI's do.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main(argv: list[str]) -> int:
    """Run the server described by ``argv[1]``; return the exit code."""
    from textclf.errors import TextclfError, os_error_message

    spec: dict[str, Any] = json.loads(argv[1]) if len(argv) > 1 else {}
    debug = bool(spec.get("debug"))
    try:
        from textclf.serving.settings import ServeSettings

        settings = ServeSettings(**(spec.get("settings") or {}))
        address: dict[str, Any] = {
            "host": spec.get("host", "127.0.0.1"),
            "port": int(spec.get("port", 8000)),
        }
        if spec.get("ray"):
            import logging

            from textclf.serving.ray import run_ray

            # uvicorn configures logging itself; Ray's path needs textclf's lines set up.
            logging.basicConfig(
                level=logging.DEBUG if debug else logging.INFO,
                format="%(levelname)s %(message)s",
            )

            run_ray(spec["model_dir"], settings, **address, replicas=int(spec.get("replicas", 1)))
        else:
            from textclf.serving.server import run_server

            run_server(
                spec["model_dir"],
                settings,
                **address,
                workers=int(spec.get("workers", 1)),
                graceful_timeout_s=float(spec.get("graceful_timeout_s", 30.0)),
                log_level=spec.get("log_level", "info"),
                threads=spec.get("threads"),
            )
    except TextclfError as e:
        if debug:
            raise
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:
        if debug:
            raise
        message = os_error_message(e) or (
            f"unexpected {type(e).__name__}: {e}. This is a bug in textclf: run the same "
            "command with --debug for the traceback and include it in a bug report."
        )
        sys.stderr.write(f"error: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
