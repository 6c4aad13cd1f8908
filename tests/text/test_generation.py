import torch
from transformers import LogitsProcessor

from common.text.generation import generate


class Force(LogitsProcessor):
    """Only token ``token`` may be generated."""

    def __init__(self, token: int):
        self.token = token

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, -float("inf"))
        forced[:, self.token] = 0.0
        return forced


def test_logits_processor_is_applied_and_prompt_excluded(tiny_gpt2):
    model, tok = tiny_gpt2
    (out,) = generate(model, tok, ["Hello world!"], max_new_tokens=4,
                      logits_processors=[Force(6342)])
    assert out.prompt_ids == [15496, 995, 0]
    assert out.token_ids == [6342] * 4
    assert out.text == " Paris" * 4
    assert not out.stopped_at_eos


def test_batched_left_padded_equals_one_by_one(tiny_llama):
    model, tok = tiny_llama
    prompts = ["A short one", "A much longer prompt with many more tokens in it"]
    batched = generate(model, tok, prompts, max_new_tokens=6, batch_size=2)
    single = [generate(model, tok, [p], max_new_tokens=6)[0] for p in prompts]
    assert [g.token_ids for g in batched] == [g.token_ids for g in single]


def test_stops_at_eos_and_drops_it(tiny_gpt2):
    model, tok = tiny_gpt2
    (out,) = generate(model, tok, [[15496, 995]], max_new_tokens=5,
                      logits_processors=[Force(tok.eos_token_id)])
    assert out.token_ids == [] and out.stopped_at_eos and out.text == ""


def test_sampling_follows_the_global_seed(tiny_gpt2):
    model, tok = tiny_gpt2
    torch.manual_seed(3)
    a = generate(model, tok, ["Once"], max_new_tokens=5, do_sample=True)[0].token_ids
    torch.manual_seed(3)
    b = generate(model, tok, ["Once"], max_new_tokens=5, do_sample=True)[0].token_ids
    assert a == b and len(a) == 5


def _bare_greedy(model, tok, prompt_ids, max_new_tokens):
    ids = torch.tensor([prompt_ids])
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id,
                             eos_token_id=tok.eos_token_id)
    row = out[0, ids.shape[1]:].tolist()
    return row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row


def test_greedy_batched_equals_bare_generate_one_by_one(smollm2):
    """What scripts/bench_text.py times: our batched greedy output is bare `generate`'s."""
    model, tok = smollm2
    prompts = ["The capital of France is", "Once upon a time, in a small village by the sea,"]
    ours = generate(model, tok, prompts, max_new_tokens=8, batch_size=2)
    assert [g.token_ids for g in ours] == [
        _bare_greedy(model, tok, g.prompt_ids, 8) for g in ours]
    assert ours[0].text.startswith(" Paris")


def test_generation_runs_in_inference_mode(tiny_gpt2):
    """No autograd bookkeeping while decoding (`inference_mode`, not just `no_grad`)."""
    model, tok = tiny_gpt2
    seen = []

    class Record(LogitsProcessor):
        def __call__(self, input_ids, scores):
            seen.append(torch.is_inference_mode_enabled())
            return scores

    generate(model, tok, ["Hello"], max_new_tokens=3, logits_processors=[Record()])
    assert seen == [True] * 3
