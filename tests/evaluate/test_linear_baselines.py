"""The PCA / FastICA comparison on natural-image patches: losses, fits, files, CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from jlonevae_lib.cli import linear_baselines as linear_baselines_cli
from jlonevae_lib.data import natural_images as ni
from jlonevae_lib.evaluate import linear_baselines as lb
from jlonevae_lib.utils.errors import JLoneVAEError
from tests.data.test_natural_images import write_source


def mixed_sources(num: int = 600, dim: int = 36, num_sources: int = 6, seed: int = 0
                  ) -> np.ndarray:
    """Data (num, dim) in [0, 1]: a few Laplace sources mixed linearly, plus a little noise."""
    rng = np.random.default_rng(seed)
    data = rng.laplace(size=(num, num_sources)) @ rng.normal(size=(num_sources, dim))
    data += 0.05 * rng.normal(size=data.shape)
    return (data - data.min()) / (data.max() - data.min())


def test_losses_match_torch_per_image_sums_with_clipping():
    data = np.array([[0.0, 0.2, 1.0, 0.7], [1.0, 0.5, 0.0, 0.3]])
    reconstruction = np.array([[-0.3, 0.25, 1.4, 0.6], [1.0, 0.5, 0.0, 0.9]])  # outside [0, 1]
    mse, bce = lb.reconstruction_losses(reconstruction, data)
    clipped = torch.tensor(np.clip(reconstruction, 0, 1))
    target = torch.tensor(data)
    assert mse == pytest.approx(torch.nn.functional.mse_loss(clipped, target,
                                                             reduction="sum").item() / 2)
    assert bce == pytest.approx(torch.nn.functional.binary_cross_entropy(
        clipped, target, reduction="sum").item() / 2)
    # A clipped 0 under a target 1 costs the floor (100), not infinity.
    assert lb.reconstruction_losses(np.array([[0.0]]), np.array([[1.0]]))[1] == 100.0


def test_pca_components_are_orthonormal_and_error_falls_with_more_components():
    data = mixed_sources()
    fits = [lb.fit_linear_baseline("PCA", data, k, seed=0) for k in (2, 4, 8)]
    for fit in fits:
        k = fit.num_components
        assert fit.components.shape == (36, k) and fit.converged
        assert np.allclose(fit.components.T @ fit.components, np.eye(k), atol=1e-10)
    errors = [fit.mse for fit in fits]
    assert errors[0] > errors[1] > errors[2]
    assert fits[0].bce > fits[1].bce > fits[2].bce


def test_ica_spans_the_pca_subspace_and_is_seeded():
    data = mixed_sources()
    pca = lb.fit_linear_baseline("PCA", data, 6, seed=0)
    ica = lb.fit_linear_baseline("ICA", data, 6, seed=0)
    assert ica.components.shape == (36, 6) and ica.converged
    # FastICA whitens with PCA: its reconstruction is the same projection.
    assert ica.mse == pytest.approx(pca.mse, rel=1e-9)
    assert ica.bce == pytest.approx(pca.bce, rel=1e-9)
    residual = ica.components - pca.components @ (pca.components.T @ ica.components)
    assert np.abs(residual).max() < 1e-8 * np.abs(ica.components).max()
    again = lb.fit_linear_baseline("ICA", data, 6, seed=0)
    assert np.array_equal(ica.components, again.components)


def test_draw_patches_is_seeded_and_without_replacement():
    patches = np.arange(50 * 4, dtype=np.float32).reshape(50, 1, 2, 2)
    drawn = lb.draw_patches(patches, 50, np.random.default_rng(0))
    assert drawn.shape == (50, 4) and drawn.dtype == np.float64
    assert sorted(drawn[:, 0]) == sorted(patches[:, 0, 0, 0])
    assert np.array_equal(lb.draw_patches(patches, 10, np.random.default_rng(1)),
                          lb.draw_patches(patches, 10, np.random.default_rng(1)))
    with pytest.raises(JLoneVAEError, match="cannot draw 51 patches from 50"):
        lb.draw_patches(patches, 51, np.random.default_rng(0))


def test_cli_writes_the_reference_npz_and_a_json_summary(tmp_path, capsys):
    root = tmp_path / "data"
    write_source(root)
    ni.write_patch_files(root, patches_per_image={"train": 30, "test": 1})
    out = tmp_path / "linearModels"
    assert linear_baselines_cli.main(["--data-root", str(root), "--output-dir", str(out),
                                      "--num-patches", "200", "--components", "2", "4",
                                      "--seed", "1"]) == 0
    summary = json.loads((out / lb.SUMMARY_FILE).read_text())
    assert summary["settings"]["num_patches"] == 200
    assert [(r["model"], r["num_components"]) for r in summary["results"]] == [
        ("PCA", 2), ("ICA", 2), ("PCA", 4), ("ICA", 4)]
    for result in summary["results"]:
        with np.load(out / result["file"], allow_pickle=False) as saved:
            assert sorted(saved.files) == ["MSE_loss", "NLL_loss", "latent_components"]
            assert saved["latent_components"].shape == (256, result["num_components"])
            assert float(saved["MSE_loss"]) == result["mse"]
            assert float(saved["NLL_loss"]) == result["bce"]
    assert "PCA   2 components" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [lb.SUMMARY_FILE, "PCA_lat2.npz", "ICA_lat2.npz", "PCA_lat4.npz", "ICA_lat4.npz"])
    shutil.rmtree(root)  # 21 MB


def test_more_components_than_the_data_allow_is_one_clear_error():
    data = np.random.default_rng(0).random((20, 16))
    with pytest.raises(JLoneVAEError, match="at most 16 fit 20 patches of 16 pixels"):
        lb.fit_linear_baselines(data, ("PCA",), (5, 300))
