import pytest
import torch

from common.text import tokenizers
from common.text.sources import GPT2BPEPackage

# Reference ids from OpenAI's GPT-2 encoder (tiktoken "gpt2" / the hub's gpt2 tokenizer).
KNOWN_GPT2 = {
    "Hello world!": [15496, 995, 0],
    "The capital of France is": [464, 3139, 286, 4881, 318],
    " Paris": [6342],
}


@pytest.mark.parametrize("text", list(KNOWN_GPT2))
def test_gpt2_bpe_matches_known_ids(gpt2_tokenizer, text):
    assert gpt2_tokenizer(text, add_special_tokens=False)["input_ids"] == KNOWN_GPT2[text]


def test_gpt2_bpe_vocab_and_roundtrip(gpt2_tokenizer):
    assert len(gpt2_tokenizer) == 50257
    assert gpt2_tokenizer.eos_token_id == 50256 == gpt2_tokenizer.pad_token_id
    text = "Café naïve — 東京  spaced\n\nlines"
    ids = gpt2_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert gpt2_tokenizer.decode(ids) == text


def test_gpt2_bpe_fresh_build_equals_cached(gpt2_tokenizer):
    from common.text import packages

    source = GPT2BPEPackage()
    fresh = tokenizers.build_gpt2_bpe(
        packages.package_file(source.distribution, source.encoder),
        packages.package_file(source.distribution, source.merges),
    )
    text = "Reloaded tokenizers must agree, even on ünïcödé and   spaces."
    assert fresh(text)["input_ids"] == gpt2_tokenizer(text)["input_ids"]


def test_bos_policy_is_explicit(gpt2_tokenizer):
    tok = tokenizers.configure(gpt2_tokenizer, add_bos=True)
    try:
        assert tokenizers.encode(tok, "Hello world!") == [50256, 15496, 995, 0]
    finally:
        tokenizers.configure(gpt2_tokenizer, add_bos=False)
    assert tokenizers.encode(gpt2_tokenizer, "Hello world!") == [15496, 995, 0]


def test_unconfigured_tokenizer_is_refused(gpt2_tokenizer):
    from transformers import AutoTokenizer

    raw = AutoTokenizer.from_pretrained(GPT2BPEPackage().resolve())
    with pytest.raises(ValueError, match="policy"):
        tokenizers.encode(raw, "x")


def test_encoder_pair_uses_cls_sep_template(load_or_skip):
    tok = load_or_skip("minilm-l6", head=None).tokenizer
    out = tokenizers.encode_pair(tok, "a cat", "a dog")
    cls, sep = tok.cls_token_id, tok.sep_token_id
    assert out["input_ids"][0] == cls and out["input_ids"].count(sep) == 2
    assert out["input_ids"][-1] == sep
    assert out["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]


def test_causal_pair_joins_with_space(gpt2_tokenizer):
    out = tokenizers.encode_pair(gpt2_tokenizer, "Hello", "world!", max_length=2)
    assert out == {"input_ids": [15496, 995], "attention_mask": [1, 1]}


def test_pad_batch_left_and_right(gpt2_tokenizer):
    left = tokenizers.pad_batch(gpt2_tokenizer, [[1, 2, 3], [4]], side="left")
    right = tokenizers.pad_batch(gpt2_tokenizer, [[1, 2, 3], [4]], side="right")
    pad = gpt2_tokenizer.pad_token_id
    assert left["input_ids"].tolist() == [[1, 2, 3], [pad, pad, 4]]
    assert left["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert right["input_ids"].tolist() == [[1, 2, 3], [4, pad, pad]]
    assert torch.equal(right["attention_mask"], torch.tensor([[1, 1, 1], [1, 0, 0]]))
