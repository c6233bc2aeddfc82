"""The seven-arm report's sentences: what the data say (the comparison with the paper's
comparator, what survives Holm's correction, the architecture confound, the reconstruction
trade-off: :func:`headline_sentences`), the measured ordering against the paper's
(:func:`ordering_sentences`) and why the results may differ from the paper's
(:func:`why_sentences`). Pure functions of the summary's dict
(:func:`jlonevae_lib.reports.seven_arms.build_seven_arm_summary`, or summary.json as written),
every number from it; only Holm-surviving differences are called significant. The documents
that place them are :mod:`jlonevae_lib.reports.seven_arms_text`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jlonevae_lib.reports.records import HELDOUT_BCE, number, seed_mean_key
from jlonevae_lib.reports.seven_arms import PAPER_SETTINGS
from jlonevae_lib.reports.seven_arms_comparisons import ALPHA, PAPER_COMPARATOR
from jlonevae_lib.reports.text import NUMBER_WORDS, and_list, ci_text, p_cell, span
from jlonevae_lib.runs.metric_table import LOCAL_MIG, metric_name, parse_metric_name
from jlonevae_lib.sweep.seven_arms import (
    BETA_ARM,
    JL1_ARM,
    PAPER_BATCHES,
    PAPER_LOCAL_MIG_0_1,
)


def number_or_nan(value: Any) -> float:
    """A JSON number as a float, nan for anything else."""
    found = number(value)
    return math.nan if found is None else found


def collapse_counts(summary: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Paper name -> (collapsed, finished) runs of each arm the paper has."""
    return {arm["paper_name"]: (arm["collapsed"], arm["finished"])
            for arm in summary["arms"] if arm["paper_name"]}


def ordering_sentences(ordering: Mapping[str, Any], what: str,
                       collapsed: Mapping[str, tuple[int, int]] | None = None) -> list[str]:
    """Plain sentences on one measured ordering against the paper's; ``collapsed``: paper
    name -> (collapsed, finished) runs, marked beside the arm's value when any collapsed.
    The orders come from ``measured_order`` and ``paper_order`` (summary.json sorts the keys
    of the value dicts)."""
    if ordering["methods"] < 2:
        return [f"- {what}: fewer than two of the paper's methods have values; no ordering."]
    counts = collapsed or {}
    values = ordering["measured_values"]
    measured = " > ".join(
        f"{name} {values[name]:.3f}" + (f" ({counts[name][0]} of {counts[name][1]} runs "
                                        "collapsed)" if counts.get(name, (0, 0))[0] else "")
        for name in ordering["measured_order"])
    paper = " > ".join(f"{name} {ordering['paper_values'][name]:.3f}"
                       for name in ordering["paper_order"])
    verdict = ("matches the paper's ordering" if ordering["matches"] else
               f"does not match the paper's ordering: {ordering['pairs_in_paper_order']} of "
               f"{ordering['pairs']} pairs are in the paper's order; reversed: "
               f"{'; '.join(ordering['pairs_reversed'])}")
    return [f"- {what}: {measured}", f"  - paper (300,000 batches): {paper}",
            f"  - the measured ordering {verdict}. First: {ordering['first']}."]


def alpha_of(summary: Mapping[str, Any]) -> float:
    """The level the summary's tests are read at (its ``tests``; :data:`ALPHA` by default)."""
    return number_or_nan((summary.get("tests") or {}).get("alpha", ALPHA))


def is_significant(row: Mapping[str, Any], alpha: float = ALPHA) -> bool:
    """Whether a t-test row is significant after Holm's correction (``p_holm`` ≤ ``alpha``);
    a raw p below ``alpha`` alone never is."""
    return row.get("p_holm") is not None and row["p_holm"] <= alpha


def tested_rows(summary: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """The t-test rows of ``summary`` on ``key`` that have a p-value."""
    return [row for row in summary["ttests"] if row["key"] == key and row["p"] is not None]


def _collapsed_note(summary: Mapping[str, Any], arm: str) -> str:
    entry = next((a for a in summary["arms"] if a["arm"] == arm), None)
    if not entry or not entry["collapsed"]:
        return ""
    return f"; {entry['collapsed']} of its {entry['finished']} runs collapsed"


def comparator_sentence(summary: Mapping[str, Any]) -> str | None:
    """JL1-VAE against the paper's comparator, disentanglement_lib's β-VAE: local MIG at 0.1
    with the difference, its interval, Hedges' g, raw and Holm-adjusted p, on both protocols,
    and every locality where that β-VAE is ahead. None without that test."""
    mig = metric_name(LOCAL_MIG, 0.1)
    rows = {(row["arm_b"], row["key"]): row for row in summary["ttests"]}
    row = rows.get((PAPER_COMPARATOR, mig))
    if row is None or row["p"] is None:
        return None
    alpha = alpha_of(summary)
    ahead = row["difference"] > 0
    verdict = ("JL1-VAE is ahead, significantly after Holm's correction"
               if ahead and is_significant(row, alpha) else
               "JL1-VAE's lead is small and not significant" if ahead else
               "JL1-VAE is not ahead")
    paper_a, paper_b = PAPER_LOCAL_MIG_0_1[JL1_ARM], PAPER_LOCAL_MIG_0_1[PAPER_COMPARATOR]
    text = (f"- **Against the paper's comparator, disentanglement_lib's β-VAE, {verdict}.** "
            f"Local MIG at 0.1, evaluation seed 0: {row['mean_a']:.3f} vs {row['mean_b']:.3f}"
            + (f" ({row['mean_a'] / row['mean_b']:.2f}×" if row["mean_b"] > 0 else " (")
            + f"; the paper's: {paper_a:.3f} vs {paper_b:.3f}, {paper_a / paper_b:.1f}×); "
            f"difference {row['difference']:+.4f} "
            f"(95% CI {ci_text(row)}), Hedges' g {number_or_nan(row['hedges_g']):.2f}, Welch "
            f"p = {p_cell(row['p'])}, Holm-adjusted {p_cell(row['p_holm'])}.")
    mean_row = rows.get((PAPER_COMPARATOR, seed_mean_key(mig)))
    if mean_row is not None and mean_row["p"] is not None:
        text += (f" On the mean of evaluation seeds (exploratory): {mean_row['mean_a']:.3f} vs "
                 f"{mean_row['mean_b']:.3f}, p = {p_cell(mean_row['p'])}, Holm-adjusted "
                 f"{p_cell(mean_row['p_holm'])}.")
    behind = []
    for other in summary["ttests"]:
        parsed = None if other["exploratory"] else parse_metric_name(other["key"])
        if (other["arm_b"] == PAPER_COMPARATOR and other["key"] != mig and parsed is not None
                and parsed[0] == LOCAL_MIG and other["mean_b"] > other["mean_a"]):
            behind.append(other)
    if behind:
        text += (f" At localit{'y' if len(behind) == 1 else 'ies'} "
                 + and_list([f"{other['locality']:g}" for other in behind])
                 + " that β-VAE is ahead: " + "; ".join(
                     f"{other['mean_b']:.4f} vs JL1-VAE's {other['mean_a']:.4f} at "
                     f"{other['locality']:g} (p = {p_cell(other['p'])})" for other in behind))
        text += "."
        if not any(is_significant(other, alpha) for other in behind):
            text += (" None of these differences is significant." if len(behind) > 1
                     else " The difference is not significant.")
    return text


def correction_sentences(summary: Mapping[str, Any]) -> list[str]:
    """Which of JL1-VAE's tests against the other arms on local MIG at 0.1 are significant
    after Holm's correction over the arms, per protocol, and which only before it."""
    alpha, out = alpha_of(summary), []
    mig = metric_name(LOCAL_MIG, 0.1)
    for key, what in ((mig, "evaluation seed 0"),
                      (seed_mean_key(mig), "mean of evaluation seeds, exploratory")):
        rows = tested_rows(summary, key)
        if not rows:
            continue
        kept = [row for row in rows if is_significant(row, alpha)]
        raw_only = [row for row in rows if row["p"] <= alpha and not is_significant(row, alpha)]
        family = rows[0]["holm_family"]
        text = (f"- **Corrected for the {family} comparisons** (Holm, α = {alpha:g})"
                if family > 1 else f"- **One comparison, nothing to correct** (α = {alpha:g})")
        text += f", local MIG at 0.1, {what}: "
        if kept:
            text += ("only " if len(kept) < len(rows) else "") + and_list([
                f"{row['group_b']} (JL1-VAE {'above' if row['difference'] > 0 else 'below'} "
                f"it, Holm-adjusted p = {p_cell(row['p_holm'])}"
                f"{_collapsed_note(summary, row['arm_b'])})" for row in kept]) + (
                " differs" if len(kept) == 1 else " differ") + " significantly from JL1-VAE"
        else:
            text += "no arm differs significantly from JL1-VAE"
        if raw_only:
            text += (f". Below {alpha:g} before the correction but not after: " + "; ".join(
                f"{row['group_b']} (p = {p_cell(row['p'])}, Holm-adjusted "
                f"{p_cell(row['p_holm'])})" for row in raw_only))
        out.append(text + ".")
    if any(row.get("exploratory") for row in summary["ttests"]):
        seeds = summary["evaluation_seeds"].get(mig, [])
        extra = len(seeds) - 1
        out.append(
            "- **The tests on the mean of evaluation seeds are exploratory.** The "
            f"{NUMBER_WORDS.get(extra, str(extra))} extra evaluation seed"
            f"{'s' if extra != 1 else ''} "
            f"({NUMBER_WORDS.get(len(seeds), str(len(seeds)))} in all: "
            f"{', '.join(map(str, seeds))}) and the tests on their mean were added while the "
            "study ran. Evaluation seed 0 is the paper's protocol. No correction is made across "
            "metrics, localities or protocols.")
    return out


def architecture_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much the architecture alone moves local MIG at 0.1 (disentanglement_lib's β-VAE
    against our ConvVAE β-VAE) beside JL1-VAE's gain over the ConvVAE β-VAE. None without
    both tests."""
    mig = metric_name(LOCAL_MIG, 0.1)
    architecture = next((row for row in summary.get("architecture") or []
                         if row["key"] == mig and row["p"] is not None), None)
    penalty = next((row for row in tested_rows(summary, mig) if row["arm_b"] == BETA_ARM), None)
    if architecture is None or penalty is None:
        return None
    return (f"- **The architecture alone moves the score.** disentanglement_lib's β-VAE (β = 4 "
            f"on its own architecture, no β ramp) is "
            f"{'above' if architecture['difference'] > 0 else 'below'} our ConvVAE β-VAE "
            f"(γ = 0; β = 4, ramped) by "
            f"{architecture['difference']:+.4f} at local MIG 0.1 (95% CI "
            f"{ci_text(architecture)}, p = {p_cell(architecture['p'])}: one exploratory "
            f"test, not corrected), against JL1-VAE's {penalty['difference']:+.4f} over the "
            f"{penalty['group_b']} that shares its architecture (p = {p_cell(penalty['p'])}, "
            f"Holm-adjusted {p_cell(penalty['p_holm'])}). This design cannot tell the "
            "penalty's effect from the architecture's; the pre-registered study "
            "`cpu_penalty_study` (docs/studies.md) puts every arm on disentanglement_lib's "
            "architecture to do so.")


def reconstruction_sentence(summary: Mapping[str, Any]) -> str | None:
    """JL1-VAE's held-out reconstruction BCE against the arms with no collapsed run."""
    arms = (summary.get("reconstruction") or {}).get("arms") or []
    jl1 = next((arm for arm in arms if arm["arm"] == JL1_ARM and arm["n"]), None)
    others = [arm for arm in arms if arm["arm"] != JL1_ARM and arm["n"] and not arm["collapsed"]]
    if jl1 is None or not others:
        return None
    means = [arm["mean"] for arm in others]
    place = ("the highest (worst)" if jl1["mean"] > max(means) else
             "the lowest (best)" if jl1["mean"] < min(means) else "within the range")
    twin = next((arm for arm in others if arm["arm"] == BETA_ARM), None)
    left_out = [arm["label"] for arm in arms if arm["collapsed"]]
    def mean_sd(arm: Mapping[str, Any]) -> str:
        sd = number_or_nan(arm.get("sd"))
        return f"{arm['mean']:.1f}" + (f" ± {sd:.1f}" if math.isfinite(sd) else "")

    text = (f"- **Reconstruction.** JL1-VAE's held-out reconstruction BCE is {mean_sd(jl1)} per "
            f"image, {place} of the arms with no collapsed run (the others: {span(means)}"
            + (f"; the {twin['label']} that shares its architecture: {mean_sd(twin)}"
               if twin else "") + ")")
    mig = metric_name(LOCAL_MIG, 0.1)
    twin_test = next((row for row in summary["ttests"]
                      if row["key"] == mig and row["arm_b"] == BETA_ARM), None)
    if (twin and jl1["mean"] > twin["mean"] and twin_test and twin_test["p"] is not None
            and twin_test["difference"] > 0):
        text += (": at this budget its higher local MIG than the β-VAE on the same "
                 "architecture comes with worse reconstructions")
    text += "."
    if left_out:
        one = len(left_out) == 1
        text += (f" {and_list(left_out)} {'has' if one else 'have'} collapsed runs and "
                 f"{'is' if one else 'are'} left out (below).")
    return text


def headline_sentences(summary: Mapping[str, Any]) -> list[str]:
    """What the data say, in order of what a reader needs first: the comparison with the
    paper's comparator, what survives Holm's correction, the architecture confound and the
    reconstruction trade-off. Every number from ``summary``; only Holm-surviving differences
    are called significant."""
    return [line for line in (comparator_sentence(summary), *correction_sentences(summary),
                              architecture_sentence(summary), reconstruction_sentence(summary))
            if line]


def scale_sentence(summary: Mapping[str, Any]) -> str | None:
    """How much of the paper's training each arm had (from summary.json's ``scale``): one
    fraction for the arms whose paper runs were 300,000 batches, one for each arm whose were
    not (FactorVAE: 150,000); None when every arm trained the paper's length or the lengths
    differ."""
    scale = summary.get("scale") or []
    if not scale or len({row["num_batches"] for row in scale}) != 1 or (
            scale[0]["num_batches"] == PAPER_BATCHES):
        return None
    settings = next((arm["settings"] for arm in summary["arms"] if arm["settings"]), {})
    text = (f"- **Scale.** Every arm trained {scale[0]['num_batches']:,} batches, with its "
            "schedules shortened by the same factor")
    if isinstance(settings.get("lr"), float) and settings["lr"] != PAPER_SETTINGS["lr"]:
        text += f" and a learning rate of {settings['lr']:g} (the paper's: 1e-4)"
    common = [row for row in scale if row["paper_batches"] == PAPER_BATCHES]
    others = [row for row in scale if row["paper_batches"] != PAPER_BATCHES]
    if common:
        text += (f". That is {100 * common[0]['fraction']:.1f}% of the paper's "
                 f"{PAPER_BATCHES:,} batches" + (" for every arm but " + and_list(
                     [row["label"] for row in others]) if others else ""))
    for row in others:
        steps = PAPER_BATCHES // row["paper_batches"]
        text += (f"; {row['label']} had {100 * row['fraction']:.1f}% of its training in the "
                 f"paper, since disentanglement_lib counts {steps} global steps per "
                 f"{row['label']} batch (a VAE and a discriminator update), so the paper's "
                 f"{PAPER_BATCHES:,} steps were about {row['paper_batches']:,} batches")
    return text + "."


def why_sentences(summary: Mapping[str, Any]) -> list[str]:
    """Plain sentences on what may make the measured ordering differ from the paper's: the
    run length, the evaluation and training-seed noise against each reversed pair's
    difference, and the collapsed runs; every number from ``summary``."""
    out = []
    sentence = scale_sentence(summary)
    if sentence:
        jl1 = next((arm for arm in summary["arms"] if arm["arm"] == JL1_ARM), None)
        mean = number_or_nan(((jl1 or {}).get("statistics") or {}).get(
            summary["noise"]["key"], {}).get("mean"))
        if math.isfinite(mean):
            sentence += (f" JL1-VAE's local MIG at 0.1 is {mean:.3f} here, the paper's "
                         f"{PAPER_LOCAL_MIG_0_1[JL1_ARM]:.3f}: these are models early in "
                         "training.")
        sentence += (" Terms that need many steps to act (FactorVAE's discriminator, the "
                     "DIP-VAEs' covariance penalties, AnnealedVAE's capacity ramp) may rank "
                     "differently after the paper's full training; this study cannot tell "
                     "which.")
        out.append(sentence)
    noise = summary["noise"]
    spread, pooled = noise["evaluation_seed"], number_or_nan(noise["training_seed_sd"])
    if spread["models"]:
        text = (f"- **Noise.** One evaluation seed moves a model's local MIG at 0.1 by "
                f"{number_or_nan(spread['sd']):.4f} (s.d. over its evaluation seeds, root mean "
                f"square over {spread['models']} models). The models of one arm differ by "
                f"{pooled:.4f} on evaluation seed 0 (s.d. pooled over the arms): the spread of "
                "the training seeds and the evaluation-seed noise together")
        on_mean = number_or_nan(noise.get("training_seed_sd_evaluation_seed_mean"))
        if math.isfinite(on_mean):
            text += f"; on the mean of the evaluation seeds they differ by {on_mean:.4f}"
        out.append(text + ".")
    if noise["reversed_pairs"]:
        k = noise["resolved_standard_errors"]
        out.append(f"- **Reversed pairs**, difference of the means ± its standard error "
                   f"(resolved: more than {k:g} standard errors apart):")
        what = {"single_seed": "evaluation seed 0",
                "evaluation_seed_mean": "mean of evaluation seeds"}
        for row in noise["reversed_pairs"]:
            difference = f"{number_or_nan(row['difference']):+.4f}"
            if row["resolved"] is None:
                verdict = f"{difference}, too few runs to tell"
            else:
                verdict = (f"{difference} ± {number_or_nan(row['standard_error']):.4f}, "
                           + ("resolved" if row["resolved"] else "within the noise"))
            out.append(f"  - {row['pair']} ({what[row['ordering']]}): {verdict}")
    collapse = summary["collapse"]
    collapsed = [run for run in summary["runs"] if run.get("collapsed")]
    references = ", ".join(f"{number_or_nan(value['mean_image']):.1f} (a perfect reconstruction: "
                           f"{number_or_nan(value['perfect']):.1f}; {name})"
                           for name, value in collapse["reference_bce"].items())
    removes = f"{1 - collapse['fraction']:.0%}"
    if collapsed:
        per_arm = []
        for arm in summary["arms"]:
            runs = [run for run in collapsed if run["arm"] == arm["arm"]]
            if runs:
                bce = [number_or_nan(run["values"].get(HELDOUT_BCE)) for run in runs]
                per_arm.append(
                    f"{arm['label']} {len(runs)} of {arm['finished']} (seed"
                    f"{'s' if len(runs) > 1 else ''} "
                    f"{', '.join(str(run['seed']) for run in runs)}; held-out reconstruction "
                    f"BCE {span(bce)} per image)")
        mostly = [arm["label"] for arm in summary["arms"]
                  if arm["finished"] and 2 * arm["collapsed"] > arm["finished"]]
        out.append("- **Collapsed runs**: " + "; ".join(per_arm)
                   + f". Predicting the mean image for every one of the same "
                   f"{collapse['evaluation_images']:,} images scores {references}; these runs "
                   f"remove less than {removes} of that gap: they reconstruct nothing, their "
                   "decoders ignore the latents. Their scores stay in every mean and test "
                   "(this is what the method produced on this budget), but they describe no "
                   "representation"
                   + (f": {and_list(mostly)} "
                      + ("owes its place" if len(mostly) == 1 else "owe their places")
                      + " in the ordering mostly to such runs." if mostly else "."))
    elif references:
        out.append(f"- No run collapsed: every run removes at least {removes} of the gap "
                   f"between the mean image's held-out BCE and a perfect reconstruction's, "
                   f"{references}.")
    return out
