"""The textclf app: ``streamlit run main.py`` (what ``textclf app --model DIR`` starts).

Settings come from environment variables (:mod:`textclf.app.settings`). This script
draws what every page shares (style, login, model picker), then runs the chosen page
from ``views/``. No error reaches the browser as a traceback: user errors are shown as
they are, anything else as one line with the details in the server log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from textclf.app import components, session
from textclf.app.render import sidebar_card_html
from textclf.app.settings import AppSettings
from textclf.auth import LoginThrottle, authenticate
from textclf.errors import TextclfError

logger = logging.getLogger("textclf.app")
VIEWS = Path(__file__).with_name("views")


@st.cache_resource
def _throttle() -> LoginThrottle:
    """One for the whole server: failed logins are counted across sessions."""
    return LoginThrottle()


def _log_in(cfg: AppSettings) -> None:
    _, middle, _ = st.columns([1, 1.4, 1])
    with middle:
        components.header("Sign in", "to classify texts and give feedback")
    with middle, st.form("login"):
        username = st.text_input("User name", key="login-user", autocomplete="username")
        password = st.text_input(
            "Password", type="password", key="login-password", autocomplete="current-password"
        )
        submitted = st.form_submit_button("Log in", type="primary", width="stretch")
    if submitted:
        wait = _throttle().retry_after(username)
        if wait > 0:
            with middle:
                st.error(f"Too many failed logins for this user; try again in {wait:.0f} s.")
            st.stop()
        if authenticate(cfg.users, username, password):
            _throttle().succeeded(username)
            st.session_state["user"] = username.strip()
            logger.info("User %s logged in.", username.strip())
            st.rerun()
        _throttle().failed(username)
        logger.warning("Failed login for user name %r.", username.strip()[:64])
        with middle:
            st.error("Wrong user name or password.")
    st.stop()


def _log_out() -> None:
    for key in ("user", "history", "batch_runs", "explanations"):
        st.session_state.pop(key, None)


def _sidebar(cfg: AppSettings, handle: session.ModelHandle) -> None:
    info = handle.info
    with st.sidebar:
        st.html(
            sidebar_card_html(
                name=handle.name,
                facts=[
                    f"{info.task}, {len(info.labels)} labels",
                    f"backbone {Path(info.backbone_name).name or '?'}",
                    f"fingerprint {handle.fingerprint.removeprefix('sha256:')[:12]}",
                ],
            )
        )
        if session.user():
            st.divider()
            st.caption(f"Signed in as **{session.user()}**")
            st.button("Log out", on_click=_log_out, icon=":material/logout:", key="logout")


def main() -> None:
    st.set_page_config(page_title="textclf", page_icon=":material/label:", layout="wide")
    st.logo(str(components.LOGO), size="large")
    components.inject_style()
    cfg = session.settings()
    if cfg.login_required and not session.user():
        _log_in(cfg)
    pages = [
        st.Page(VIEWS / "predict.py", title="Predict", icon=":material/edit_note:", default=True),
        st.Page(VIEWS / "batch.py", title="Batch", icon=":material/table_view:"),
        st.Page(VIEWS / "history.py", title="History", icon=":material/history:"),
        st.Page(VIEWS / "feedback.py", title="Feedback", icon=":material/reviews:"),
        st.Page(VIEWS / "model.py", title="Model", icon=":material/model_training:"),
    ]
    page = st.navigation(pages, position="top")
    try:
        handle = session.current_model(cfg)
        st.session_state["_model"] = handle
        _sidebar(cfg, handle)
        page.run()
    except TextclfError as e:
        st.error(str(e), icon=":material/error:")
    except Exception as e:  # the browser gets one line, the server log the traceback
        logger.exception("The app failed on page %s.", page.title)
        st.error(
            f"Something went wrong ({type(e).__name__}: {str(e)[:200]}). The details are in "
            "the server log; try again, or report it with that log.",
            icon=":material/error:",
        )


main()
