"""2-D projections of embeddings: PCA, t-SNE sampling, tiny inputs, the UMAP extra.

Sentence embeddings from a trained model are tested in
tests/integration/test_diagnostics_model.py.
"""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from textclf.diagnostics.embeddings import Projection, project
from textclf.errors import ConfigError, MissingExtraError


def test_pca_matches_sklearn_and_uses_every_row():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    proj = project(x, method="pca", seed=3, max_points=10)
    assert isinstance(proj, Projection)
    assert proj.method == "pca" and proj.note == ""
    np.testing.assert_array_equal(proj.index, np.arange(40))
    expected = PCA(n_components=2, random_state=3).fit_transform(x)
    np.testing.assert_allclose(proj.coords, expected, rtol=1e-4, atol=1e-5)


def test_pca_known_answer_on_a_plane():
    # Centred points on the plane of e1 (spread 10) and e2 (small, uncorrelated): PCA recovers it.
    t = np.linspace(-1, 1, 9)
    x = np.stack([10 * t, np.array([1.0, 0, -1, 0, 0, 0, -1, 0, 1]), np.zeros(9)], axis=1)
    coords = project(x, method="pca", seed=0).coords
    np.testing.assert_allclose(np.abs(coords[:, 0]), np.abs(10 * t), atol=1e-4)
    np.testing.assert_allclose(np.abs(coords[:, 1]), np.abs(x[:, 1]), atol=1e-4)


def test_tsne_samples_with_a_seed_and_says_so():
    x = np.random.default_rng(1).normal(size=(30, 8)).astype(np.float32)
    proj = project(x, method="tsne", seed=7, max_points=12)
    assert proj.method == "tsne" and proj.coords.shape == (12, 2)
    assert proj.coords.dtype == np.float32 and np.isfinite(proj.coords).all()
    assert len(set(proj.index.tolist())) == 12 and (np.diff(proj.index) > 0).all()
    assert proj.index.min() >= 0 and proj.index.max() < 30
    assert proj.note == "t-SNE on a random sample of 12 of 30 examples (seed 7)"
    again = project(x, method="tsne", seed=7, max_points=12)
    np.testing.assert_array_equal(again.index, proj.index)
    np.testing.assert_allclose(again.coords, proj.coords)
    other = project(x, method="tsne", seed=8, max_points=12)
    assert not np.array_equal(other.index, proj.index)
    full = project(x, method="tsne", seed=7, max_points=None)
    assert full.coords.shape == (30, 2) and full.note == ""


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_tiny_inputs_do_not_crash(method: str, n: int):
    x = np.random.default_rng(n).normal(size=(n, 5))
    proj = project(x, method=method, seed=0)  # type: ignore[arg-type]
    assert proj.coords.shape == (n, 2) and np.isfinite(proj.coords).all()
    np.testing.assert_array_equal(proj.index, np.arange(n))
    if method != "pca" or n < 3:
        assert proj.note  # the reader is told why the map is not what was asked
    if method != "pca" and n > 0:
        assert proj.method == "pca" and "at least 5" in proj.note


def test_sample_smaller_than_five_falls_back_to_pca():
    x = np.random.default_rng(0).normal(size=(20, 4))
    proj = project(x, method="tsne", seed=0, max_points=3)
    assert proj.method == "pca" and proj.coords.shape == (3, 2)
    assert "3 of 20" in proj.note and "PCA" in proj.note


def test_missing_umap_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "umap" or name.startswith("umap."):
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    x = np.random.default_rng(0).normal(size=(20, 4))
    with pytest.raises(MissingExtraError, match=r"umap-learn.*textclf\[diagnostics\]"):
        project(x, method="umap", seed=0)


def test_bad_arguments():
    x = np.zeros((10, 3))
    with pytest.raises(ConfigError, match="lda"):
        project(x, method="lda", seed=0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="2-D"):
        project(np.zeros(10), method="pca", seed=0)
    with pytest.raises(ConfigError, match="max_points"):
        project(x, method="tsne", seed=0, max_points=0)
