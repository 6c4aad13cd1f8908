"""Complete and multi-exit classifiers on a tiny BERT: heads read the right layers, the
truncated encoder computes exactly the first layers, DeeBERT's second stage keeps the trained
classifier."""

import copy

import torch

from papers.cascadebert.models import CompleteModel, MultiExitModel, truncated


def _batch(tok):
    enc = tok(["a short one", "a somewhat longer second sentence here"], padding=True,
              return_tensors="pt")
    return dict(enc)


def test_complete_model_reads_the_last_layer(encoder):
    enc, tok = encoder
    pooler = copy.deepcopy(enc.pooler.dense)
    model = CompleteModel(enc, 3).eval()
    assert enc.pooler is None  # copied into the head, no longer computed
    assert torch.equal(model.head.pooler.weight, pooler.weight)
    batch = _batch(tok)
    last = enc(**batch).last_hidden_state
    want = model.head.classifier(torch.tanh(pooler(last[:, 0])))
    assert torch.allclose(model(batch), want, atol=1e-6)


def test_multi_exit_heads_read_each_layer(encoder):
    enc, tok = encoder
    model = MultiExitModel(enc, 2, shared_pooler=True).eval()
    assert all(h.pooler is model.heads[0].pooler for h in model.heads)
    batch = _batch(tok)
    hidden = enc(**batch, output_hidden_states=True).hidden_states
    logits = model(batch)
    assert logits.shape == (3, 2, 2)
    for layer in range(3):
        assert torch.allclose(logits[layer], model.heads[layer](hidden[layer + 1],
                                                                batch["attention_mask"]), atol=1e-6)
    separate = MultiExitModel(copy.deepcopy(enc), 2, shared_pooler=False)
    assert separate.heads[0].pooler is not separate.heads[1].pooler


def test_truncated_encoder_equals_the_first_layers(encoder):
    enc, tok = encoder
    batch = _batch(tok)
    with torch.no_grad():
        full = enc(**batch, output_hidden_states=True).hidden_states
        with truncated(enc, 2):
            cut = enc(**batch).last_hidden_state
    assert torch.allclose(cut, full[2], atol=1e-6)
    assert len(enc.encoder.layer) == 3


def test_truncating_first_does_not_lose_hidden_states_later(encoder):
    enc, tok = encoder
    batch = _batch(tok)
    with torch.no_grad():
        with truncated(enc, 1):
            assert len(enc(**batch, output_hidden_states=True).hidden_states) == 2
        assert len(enc(**batch, output_hidden_states=True).hidden_states) == 4


def test_deebert_second_stage_keeps_the_trained_classifier(encoder):
    enc, tok = encoder
    trained = CompleteModel(enc, 2).eval()
    pretrained = copy.deepcopy(trained.head.pooler)
    with torch.no_grad():
        trained.head.pooler.weight.add_(1.0)  # "fine-tuned"
    model = MultiExitModel.with_ramps(trained, pretrained).eval()
    assert model.num_layers == 3 and model.heads[-1] is trained.head
    assert torch.equal(model.heads[0].pooler.weight, pretrained.weight)
    batch = _batch(tok)
    assert torch.allclose(model(batch)[-1], trained(batch), atol=1e-6)


def test_mean_pooling_ignores_padding(encoder):
    enc, tok = encoder
    model = CompleteModel(enc, 2, pooling="mean").eval()
    batch = _batch(tok)
    hidden = enc(**batch).last_hidden_state
    mask = batch["attention_mask"]
    short = int(mask[0].sum())
    vector = hidden[0, :short].mean(0)
    want = model.head.classifier(torch.tanh(model.head.pooler(vector)))
    assert torch.allclose(model(batch)[0], want, atol=1e-5)
