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
