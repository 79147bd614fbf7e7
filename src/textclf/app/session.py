"""What the app's pages share: settings, the chosen model, the session's history and
thresholds, the user and the feedback store.

Models and the feedback store are process-wide (``st.cache_resource``: every browser
session shares one loaded model); history, thresholds and the login are per session
(``st.session_state``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from textclf.app.predictions import BatchRun, Prediction, saved_thresholds
from textclf.app.settings import AppSettings, model_names
from textclf.errors import TextclfError
from textclf.feedback import FeedbackStore, model_fingerprint
from textclf.inference.pipeline import Predictor
from textclf.persistence import ModelInfo, read_info

logger = logging.getLogger(__name__)


def settings() -> AppSettings:
    """The settings from the environment; a bad setting stops the page with its message."""
    if "_settings" not in st.session_state:
        try:
            st.session_state["_settings"] = AppSettings.from_env()
        except TextclfError as e:
            st.error(str(e))
            st.stop()
    return st.session_state["_settings"]


def _stamp(path: Path) -> int:
    """Changes when the folder's sidecar changes (e.g. after ``textclf calibrate``)."""
    sidecar = path / "textclf.json"
    return sidecar.stat().st_mtime_ns if sidecar.is_file() else 0


@st.cache_resource(show_spinner=False, max_entries=8)
def _load_predictor(path: str, stamp: int) -> Predictor:
    return Predictor.from_folder(path)


@st.cache_resource(show_spinner=False, max_entries=4)
def _open_store(path: str) -> FeedbackStore:
    return FeedbackStore(path)


@dataclass(frozen=True)
class ModelHandle:
    """A model folder the user picked.

    Attributes:
        path: The folder.
        name: Its display name.
        info: Its ``textclf.json``.
        fingerprint: :func:`textclf.feedback.model_fingerprint` of the folder.
    """

    path: Path
    name: str
    info: ModelInfo
    fingerprint: str

    @property
    def key(self) -> str:
        """A short id for widget keys."""
        return self.fingerprint.removeprefix("sha256:")[:12]

    def predictor(self) -> Predictor:
        """The loaded model (loaded once per process and folder version)."""
        with st.spinner(f"Loading {self.name}…"):
            return _load_predictor(str(self.path), _stamp(self.path))


def current_model(cfg: AppSettings) -> ModelHandle:
    """The model chosen in the sidebar (a picker appears when there are several)."""
    names = model_names(cfg.models)
    paths = list(cfg.models)
    if len(paths) > 1:
        chosen = st.sidebar.selectbox(
            "Model",
            paths,
            format_func=lambda p: names[p],
            key="model_path",
            help="The model folders given to 'textclf app --model'.",
        )
    else:
        chosen = paths[0]
    path = Path(chosen)
    info = read_info(path)
    return ModelHandle(path=path, name=names[path], info=info, fingerprint=model_fingerprint(path))


def store(cfg: AppSettings) -> FeedbackStore:
    """The feedback store named by the settings."""
    return _open_store(str(cfg.feedback_db))


def user() -> str | None:
    """The logged-in user (``None`` without login)."""
    return st.session_state.get("user")


def history() -> list[Prediction]:
    """Texts classified in this session, oldest first."""
    return st.session_state.setdefault("history", [])


def batch_runs() -> list[BatchRun]:
    """Batch files predicted in this session, oldest first."""
    return st.session_state.setdefault("batch_runs", [])


def _threshold_state() -> dict[str, Any]:
    return st.session_state.setdefault("thresholds", {})


def thresholds(handle: ModelHandle) -> list[float] | None:
    """The thresholds in force for this model in this session (saved ones until changed)."""
    current = _threshold_state().get(handle.fingerprint)
    return list(current) if current is not None else saved_thresholds(handle.info)


def set_thresholds(handle: ModelHandle, values: Sequence[float] | None) -> None:
    """Use ``values`` for this model in this session."""
    _threshold_state()[handle.fingerprint] = None if values is None else list(values)


def thresholds_changed(handle: ModelHandle) -> bool:
    """Whether the session's thresholds differ from the saved ones."""
    return thresholds(handle) != saved_thresholds(handle.info)


def reset_thresholds(handle: ModelHandle) -> None:
    """Back to the saved thresholds; the sliders are recreated with those values."""
    _threshold_state().pop(handle.fingerprint, None)
    versions = st.session_state.setdefault("threshold_version", {})
    versions[handle.fingerprint] = versions.get(handle.fingerprint, 0) + 1


def threshold_version(handle: ModelHandle) -> int:
    """Bumped by :func:`reset_thresholds` so the sliders get new keys (and values)."""
    return int(st.session_state.get("threshold_version", {}).get(handle.fingerprint, 0))


def model() -> ModelHandle:
    """The model picked for this run (set by ``main.py`` before the page runs)."""
    return st.session_state["_model"]


def count_model_run() -> None:
    """Count a model run in this session (the slider tests check it does not move)."""
    st.session_state["model_runs"] = st.session_state.get("model_runs", 0) + 1
