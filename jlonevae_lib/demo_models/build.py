"""Build the demo checkpoints from finished runs (maintainers' tool).

    python -m jlonevae_lib.demo_models.build RUN_DIR [RUN_DIR ...] [--output-dir DIR]

Each finished run (it has ``DONE``) becomes ``DIR/<experiment>/<run>/`` (default DIR: the
package's :data:`~jlonevae_lib.demo_models.DEMO_MODELS_DIR`) holding:

- ``representation/cache_batch_no<N>/``: the final model in the reference format, float16;
- ``config.json`` and ``DONE``: the run's own records;
- ``metrics/*/results/aggregate/evaluation.json``: its evaluation results, when it has any
  (computed with the float32 weights);
- ``DEMO.md``: the label, the training record, what float16 changes and the scores.

A folder larger than :data:`MAX_RUN_BYTES` is refused. Runs already in DIR are replaced; the
rest of DIR is left alone.
"""

from __future__ import annotations

if __name__ == "__main__":
    # ``python -m`` of this module: run its command line as the program, by name (the library
    # never imports jlonevae_lib.cli), before this copy defines anything (the command
    # imports the module as usual; this copy would run beside it).
    import runpy

    runpy.run_module("jlonevae_lib.cli.demo_build", run_name="__main__", alter_sys=True)

import copy
import json
import shutil
from pathlib import Path

import torch

from jlonevae_lib.architecture.jacobian import jacobian_columns_exact
from jlonevae_lib.architecture.load_model import load_model
from jlonevae_lib.architecture.save_model import save_conv_vae
from jlonevae_lib.architecture.vae import ConvVAE
from jlonevae_lib.data.example_images import example_three_dots_image
from jlonevae_lib.demo_models import DEMO_KIND, DEMO_LABEL
from jlonevae_lib.runs import layout
from jlonevae_lib.runs.metric_table import score_labels
from jlonevae_lib.runs.results import our_run_info, run_records
from jlonevae_lib.train.config import TrainConfig
from jlonevae_lib.utils.atomic import atomic_write_text
from jlonevae_lib.utils.errors import JLoneVAEError

#: The size limit of one demo run folder: small enough to keep in git.
MAX_RUN_BYTES = 2_000_000


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def float16_column_error(model: ConvVAE) -> float:
    """How much float16 weights change the Jacobian columns of the paper's example image:
    max |J_half − J| / max |J|, both at the float32 model's mean latent (so only the decoder's
    rounding counts). The model must take 64×64×1 images."""
    image = torch.as_tensor(example_three_dots_image())
    rounded = copy.deepcopy(model).half().float()
    with torch.no_grad():
        mu, _ = model.encode(image)
        exact = jacobian_columns_exact(model.decode, mu)
        error = (jacobian_columns_exact(rounded.decode, mu) - exact).abs().max()
    return float(error / exact.abs().max())


def demo_notes(run_dir: Path, config: TrainConfig, done: dict, column_error: float) -> str:
    """The Markdown of a demo run's ``DEMO.md``: label, settings, training record, scores."""
    run = our_run_info(run_dir)
    title = run.label if run is not None else run_dir.parent.name
    lines = [
        f"# {DEMO_LABEL}: {title}, {config.run_name}",
        "",
        f"A {DEMO_KIND} checkpoint: {config.num_batches:,} batches of "
        f"{config.batch_size} on `{config.dataset}`, far from the paper's 300,000. It shows the "
        "effect of the Jacobian penalty, not the paper's numbers. Weights stored as float16 "
        "(they load into the float32 model): on the paper's example image, that changes the "
        f"Jacobian columns by at "
        f"most {100 * column_error:.2g}% of their largest entry.",
        "",
        f"Trained in {done.get('train_seconds', float('nan')) / 60:.1f} min on "
        f"{done.get('device', '?')} (torch {done.get('torch', '?')}). Settings: see "
        f"`{layout.CONFIG_FILE}`.",
    ]
    rows = sorted((r.metric, -1.0 if r.locality is None else r.locality, r.value)
                  for r in (run_records(run_dir, run) if run is not None else []))
    if rows:
        lines += ["", f"Scores of the float32 weights (the {layout.EVALUATION_FILE} files in "
                      f"`{layout.METRICS_DIR}/`):",
                  "", "| metric | locality | score |", "|---|---|---|"]
        labels = score_labels()
        lines += [f"| {labels.get(metric, metric)} | "
                  f"{'global' if locality < 0 else f'{locality:g}'} | {value:.3f} |"
                  for metric, locality, value in rows]
    return "\n".join(lines) + "\n"


def build_demo_run(run_dir: Path, output_dir: Path) -> Path:
    """Write the demo copy of the finished run ``run_dir`` under ``output_dir``; returns it."""
    done_path = layout.done_path(run_dir)
    if not done_path.is_file():
        raise JLoneVAEError(f"{run_dir} is not a finished run (no {layout.DONE_FILE}); finish it "
                            "first")
    config = TrainConfig.load(layout.config_path(run_dir))
    done = json.loads(done_path.read_text())
    model = load_model(layout.saved_model_dir(run_dir, done["num_batches"]), device="cpu")
    column_error = float16_column_error(model)
    target = output_dir / run_dir.parent.name / run_dir.name
    staging = target.with_name(f".{target.name}.building")
    shutil.rmtree(staging, ignore_errors=True)
    save_conv_vae(model.half(), layout.saved_model_dir(staging, done["num_batches"]))
    # Plain copies: the staging folder as a whole is swapped in by one rename below.
    for source in [layout.config_path(run_dir), done_path, *layout.evaluation_files(run_dir)]:
        destination = staging / source.relative_to(run_dir)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    atomic_write_text(staging / "DEMO.md", demo_notes(staging, config, done, column_error))
    size = folder_bytes(staging)
    if size > MAX_RUN_BYTES:
        shutil.rmtree(staging)
        raise JLoneVAEError(f"the demo copy of {run_dir} takes {size:,} bytes, over the "
                            f"{MAX_RUN_BYTES:,}-byte limit")
    # Swap in the finished folder: an interrupted build leaves the old demo or none, never half.
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
