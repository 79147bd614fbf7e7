"""``textclf app``: start the Streamlit app; ``app hash-password``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from textclf.cli._common import (
    run,
)
from textclf.cli.feedback import FeedbackDb

# ---------------------------------------------------------------------------------------
# app / feedback
# ---------------------------------------------------------------------------------------

# The app is a separate top-level package (textclf.app): the CLI starts it as a Streamlit
# subprocess and passes its options in these environment variables, which
# textclf.app.settings reads (tests/integration/test_cli_app.py checks the names match).
_APP_ENV = {
    "models": "TEXTCLF_APP_MODELS",
    "max_upload_mb": "TEXTCLF_APP_MAX_UPLOAD_MB",
    "max_rows": "TEXTCLF_APP_MAX_ROWS",
    "examples": "TEXTCLF_APP_EXAMPLES",
}
_APP_COLOR = "#6366f1"

app = typer.Typer(
    help="The Streamlit app: predictions, explanations, batch files, history and feedback.",
    invoke_without_command=True,
)


def _can_open_browser() -> bool:
    """A terminal to start from and a display to open a window on."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _app_command(
    script: str,
    *,
    port: int,
    address: str,
    headless: bool,
    max_upload_mb: float,
    theme: str,
) -> list[str]:
    import math

    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true" if headless else "false",
        # Streamlit's first run asks for an e-mail address on stdin, so an app started by a
        # service manager or a container (no terminal) would wait forever.
        "--server.showEmailPrompt",
        "false",
        # Streamlit refuses bigger uploads in the browser; the app checks the exact limit.
        "--server.maxUploadSize",
        str(max(1, math.ceil(max_upload_mb))),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        # The app shows its own one-line errors; never a traceback in the browser.
        "--client.showErrorDetails",
        "none",
        "--theme.primaryColor",
        _APP_COLOR,
    ]
    if theme != "auto":
        cmd += ["--theme.base", theme]
    return cmd


@app.callback()
def app_main(
    ctx: typer.Context,
    model: Annotated[
        list[Path] | None,
        typer.Option(
            "--model",
            "-m",
            help="Model folder, or a folder of model folders; repeat for a model picker.",
        ),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option("--address", help="Address to bind; 0.0.0.0 serves the network.")
    ] = "localhost",
    feedback_db: FeedbackDb = None,
    auth: Annotated[
        Path | None,
        typer.Option(
            "--auth",
            help="Users file (TOML/YAML/JSON) to require a login; see 'textclf app hash-password'.",
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", help="Largest batch file accepted.")
    ] = 50.0,
    max_rows: Annotated[
        int, typer.Option("--max-rows", help="Most rows predicted from one batch file.")
    ] = 100_000,
    theme: Annotated[str, typer.Option("--theme", help="auto|light|dark")] = "auto",
    examples: Annotated[
        bool,
        typer.Option(
            "--examples",
            help="Offer an Example button with texts from the model's test split: the data's "
            "own texts, which every user of the app then sees.",
        ),
    ] = False,
    headless: Annotated[
        bool | None,
        typer.Option(
            "--headless/--browser",
            help="Never open a browser / open one (default: open one only when started from "
            "a terminal on a machine with a display)",
        ),
    ] = None,
) -> None:
    """Start the app on a model folder: textclf app --model runs/x [--port 8501]."""
    if ctx.invoked_subcommand is not None:
        return

    def body() -> int:
        import importlib.util
        import signal
        import subprocess

        from textclf.auth import AUTH_FILE_ENV, load_reviewers, load_users, open_to_network
        from textclf.errors import ConfigError, missing_extra
        from textclf.feedback import DB_ENV, FeedbackStore, default_db_path
        from textclf.persistence import discover_models, read_info
        from textclf.ports import check_port_free

        if not model:
            raise ConfigError("no model given; pass --model DIR (a folder from 'textclf train').")
        # A folder with no model in it, or a model folder given directly whose textclf.json
        # is broken, fails here, not in the browser.
        given = {m.expanduser().resolve() for m in model}
        for folder in discover_models(model):
            if folder.resolve() in given:
                read_info(folder)
        if not 0 < port < 65536:
            raise ConfigError(f"--port {port}: must be between 1 and 65535.")
        check_port_free(address, port, host_flag="--address")  # before the banner
        if theme not in ("auto", "light", "dark"):
            raise ConfigError(f"--theme {theme}: use auto, light or dark.")
        if max_upload_mb <= 0 or max_rows <= 0:
            raise ConfigError("--max-upload-mb and --max-rows must be positive.")
        if importlib.util.find_spec("streamlit") is None:
            raise missing_extra("streamlit", "app")
        if auth is not None:
            # A bad users file, or a reviewer who is no user, fails here, not in the browser.
            load_reviewers(load_users(auth), auth)
        else:
            warning = open_to_network(
                address, "classify texts and read every user's feedback", "--auth USERS_FILE"
            )
            if warning:
                print(f"warning: {warning}", file=sys.stderr)
        db = (feedback_db or default_db_path()).expanduser().resolve()
        FeedbackStore(db)  # created (or checked) before the server starts
        spec = importlib.util.find_spec("textclf.app.main")
        if spec is None or spec.origin is None:
            raise missing_extra("textclf.app", "app")
        env = dict(os.environ)
        env[_APP_ENV["models"]] = os.pathsep.join(str(m.resolve()) for m in model)
        env[_APP_ENV["max_upload_mb"]] = str(max_upload_mb)
        env[_APP_ENV["max_rows"]] = str(max_rows)
        env[_APP_ENV["examples"]] = "1" if examples else "0"
        env[DB_ENV] = str(db)
        if auth is not None:
            env[AUTH_FILE_ENV] = str(auth.expanduser().resolve())
        cmd = _app_command(
            spec.origin,
            port=port,
            address=address,
            headless=not _can_open_browser() if headless is None else headless,
            max_upload_mb=max_upload_mb,
            theme=theme,
        )
        print(f"textclf app on http://{address}:{port} (Ctrl+C stops it); feedback in {db}.")
        proc = subprocess.Popen(cmd, env=env)
        # A service manager stops us with SIGTERM: pass it on, so no server is left behind.
        previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        try:
            return proc.wait()
        except KeyboardInterrupt:  # Streamlit got the Ctrl+C too and shuts down
            return proc.wait()
        finally:
            signal.signal(signal.SIGTERM, previous)

    code = run(body)
    if code:
        raise typer.Exit(code=code)


@app.command("hash-password")
def app_hash_password(
    user: Annotated[
        str | None, typer.Option("--user", help="Also print a users-file line for this user.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Hash a password (scrypt) for the app's users file or $TEXTCLF_APP_USERS."""

    def body() -> None:
        from textclf.auth import hash_password

        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        encoded = hash_password(password)
        if user:
            print(f'[users]\n{user} = "{encoded}"')
        else:
            print(encoded)

    run(body)
