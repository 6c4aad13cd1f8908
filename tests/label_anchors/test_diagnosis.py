"""Anchor-distance error diagnosis (Sec. 3.3): the PCA projection, both confusion matrices on
hand-computed cases, the hooked q/k vectors against Llama's own projections, and an end-to-end
run on TREC."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from papers.label_anchors.attention import Recorder, hooked
from papers.label_anchors.diagnosis import (
    agreement,
    anchor_vectors,
    class_ordered_demonstrations,
    diagnose,
    diagnosis_layer,
    measured_confusion,
    plot_confusions,
    predicted_confusion,
    project_keys,
)


def test_projection_matches_an_svd_by_hand():
    rng = np.random.default_rng(0)
    queries = rng.normal(size=(40, 12)) * np.linspace(3.0, 0.5, 12) + 2.0
    keys = rng.normal(size=(4, 12))
    _, singular, directions = np.linalg.svd(queries - queries.mean(0), full_matrices=False)
    sigma = singular[:5] / math.sqrt(len(queries) - 1)
    expected = keys @ directions[:5].T * sigma
    ours = project_keys(queries, keys, components=5)
    signs = np.sign((ours * expected).sum(0))  # each component's direction is defined up to sign
    np.testing.assert_allclose(ours * signs, expected, atol=1e-10)


def test_predicted_confusion_normalises_by_the_largest_distance():
    keys = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4 and 5
    expected = np.array([[1.0, 0.6, 0.8], [0.6, 1.0, 1.0], [0.8, 1.0, 1.0]])
    np.testing.assert_allclose(predicted_confusion(keys), expected)


PROBS = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.4, 0.3], [0.1, 0.8, 0.1],
                  [0.5, 0.25, 0.25]])
LABELS = np.array([0, 0, 1, 1, 2])


def test_measured_confusion_is_the_pairwise_auc_of_probability_ratios():
    # 0 vs 1: p0/p1 = 2, .4 (gold 0) against .75, .125 -> 3 of 4 pairs ordered: .75
    # 0 vs 2: p0/p2 = 6, .67 (gold 0) against 2 -> .5;  1 vs 2: 4/3, 8 against 1 -> 1
    expected = np.array([[1.0, 0.75, 0.5], [0.75, 1.0, 1.0], [0.5, 1.0, 1.0]])
    np.testing.assert_allclose(measured_confusion(np.log(PROBS), LABELS, 3), expected)


def test_measured_confusion_leaves_pairs_without_examples_undefined():
    confusion = measured_confusion(np.log(PROBS[:4]), LABELS[:4], 3)
    assert confusion[0, 1] == pytest.approx(0.75)
    assert np.isnan(confusion[[0, 1, 2, 2], [2, 2, 0, 1]]).all()
    assert (np.diag(confusion) == 1).all()


def test_agreement_uses_the_defined_upper_triangle():
    predicted = np.array([[1.0, 0.2, 0.5, 0.9], [0.2, 1.0, 0.4, 0.3],
                          [0.5, 0.4, 1.0, 0.7], [0.9, 0.3, 0.7, 1.0]])
    measured = 2 * predicted - 0.1
    measured[0, 3] = np.nan
    scores = agreement(predicted, measured)
    assert scores["pearson"] == pytest.approx(1.0)
    assert scores["spearman"] == pytest.approx(1.0)


def test_agreement_is_undefined_below_three_pairs():
    binary = np.array([[1.0, 0.3], [0.3, 1.0]])
    assert np.isnan(agreement(binary, binary)["pearson"])


def test_default_layer():
    assert diagnosis_layer(48) == 32
    assert diagnosis_layer(2) == 1


def _rotate(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def test_hooked_vectors_are_llamas_rotated_projections(llama_trec):
    """The Recorder's q/k at the layer equal q_proj / k_proj outputs rotated by RoPE at their
    positions, keys repeated over each group of query heads."""
    model, layer = llama_trec.model, 1
    config = model.config
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    head_dim = config.hidden_size // heads
    attention = model.model.layers[layer].self_attn
    prompt = llama_trec.prompts()[0]
    outputs = {}
    handles = [getattr(attention, name).register_forward_hook(
        lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
        for name in ("q_proj", "k_proj")]
    recorder = Recorder(layers=[layer], keep_qk=True)
    try:
        with torch.inference_mode(), hooked(model, recorder):
            llama_trec.logits(prompt)
    finally:
        for handle in handles:
            handle.remove()
    ids = llama_trec.ids(prompt)
    positions = torch.arange(ids.shape[1]).unsqueeze(0)
    with torch.inference_mode():
        cos, sin = model.model.rotary_emb(model.model.embed_tokens(ids), positions)
    cos, sin = cos[:, None], sin[:, None]

    def per_head(x, n):
        return x.view(1, -1, n, head_dim).transpose(1, 2)

    keys = _rotate(per_head(outputs["k_proj"], kv_heads), cos, sin)
    queries = _rotate(per_head(outputs["q_proj"], heads), cos, sin)
    torch.testing.assert_close(recorder.keys[layer],
                               keys.repeat_interleave(heads // kv_heads, dim=1))
    torch.testing.assert_close(recorder.queries[layer], queries)


def _diagnosis_examples(setting):
    """Two training rows per class (not demonstrations): every class pair has examples."""
    return setting.sample_examples(setting.train, 2, seed=0, exclude=setting.demonstrations)


def test_anchor_vectors_take_keys_in_class_order(llama_trec):
    demos = class_ordered_demonstrations(llama_trec)
    assert [d[llama_trec.label_field] for d in demos] == list(range(6))
    prompts = llama_trec.prompts()[:3]  # the setting's demonstrations, shuffled classes
    keys, queries, scores = anchor_vectors(llama_trec, prompts, 1)
    width = llama_trec.model.config.hidden_size
    assert keys.shape == (6, width) and queries.shape == (3, width) and scores.shape == (3, 6)
    recorder = Recorder(layers=[1], keep_qk=True)
    with torch.inference_mode(), hooked(llama_trec.model, recorder):
        logits = llama_trec.logits(prompts[0])
    for k, c in enumerate(prompts[0].demo_labels):
        head_major = recorder.keys[1][0, :, prompts[0].label_positions[k]].flatten()
        torch.testing.assert_close(keys[c], head_major)
    torch.testing.assert_close(queries[0], recorder.queries[1][0, :, -1].flatten())
    torch.testing.assert_close(scores[0], llama_trec.class_scores(logits))


def test_diagnose_end_to_end(llama_trec, tmp_path):
    result = diagnose(llama_trec, _diagnosis_examples(llama_trec), components=5)
    assert result["layer"] == 1 and result["examples"] == 12
    for name in ("predicted", "measured"):
        matrix = result[name]
        assert matrix.shape == (6, 6)
        np.testing.assert_array_equal(np.diag(matrix), np.ones(6))
        assert np.isfinite(matrix).all() and (matrix >= 0).all() and (matrix <= 1).all()
        np.testing.assert_allclose(matrix, matrix.T)
    assert -1.0 <= result["pearson"] <= 1.0 and -1.0 <= result["spearman"] <= 1.0
    path = plot_confusions(result["predicted"], result["measured"],
                           llama_trec.template.label_words, tmp_path / "confusion.png")
    assert path.stat().st_size > 0
