import pytest

from common.text.prompts import ICLTemplate, label_token_ids, sample_demonstrations
from common.text.tokenizers import configure

SST2 = ICLTemplate("Review: {sentence}\nSentiment: {label}", ["Negative", "Positive"])


def test_prompt_is_demonstrations_then_query_without_label():
    demos = [{"sentence": "awful", "label": 0}, {"sentence": "great", "label": 1}]
    prompt = SST2.build(demos, {"sentence": "fine", "label": 1})
    assert prompt == (
        "Review: awful\nSentiment: Negative\n"
        "Review: great\nSentiment: Positive\n"
        "Review: fine\nSentiment:"
    )


def test_template_must_end_with_label():
    with pytest.raises(ValueError, match="label"):
        ICLTemplate("{label}: {text}", ["a"])


def test_label_words_map_to_their_first_token(gpt2_tokenizer):
    ids = label_token_ids(gpt2_tokenizer, SST2)
    expected = [gpt2_tokenizer(" Negative", add_special_tokens=False)["input_ids"][0],
                gpt2_tokenizer(" Positive", add_special_tokens=False)["input_ids"][0]]
    assert ids == expected
    trec = ICLTemplate("Question: {text}\nAnswer Type: {label}",
                       ["Abbreviation", "Entity", "Description", "Person", "Location", "Number"])
    assert len(set(label_token_ids(gpt2_tokenizer, trec))) == 6


def test_label_words_sharing_a_first_token_are_refused(gpt2_tokenizer):
    clash = ICLTemplate("Q: {text}\nA: {label}", ["Technology", "Technological"])
    tok = configure(gpt2_tokenizer, add_bos=False)
    first = {tok(" " + w, add_special_tokens=False)["input_ids"][0] for w in clash.label_words}
    if len(first) == 1:
        with pytest.raises(ValueError, match="share a first token"):
            label_token_ids(tok, clash)


def test_demonstrations_per_class_are_balanced_and_seeded():
    rows = [{"text": f"t{i}", "label": i % 3} for i in range(30)]
    demos = sample_demonstrations(rows, "label", per_class=2, seed=7)
    assert sorted(d["label"] for d in demos) == [0, 0, 1, 1, 2, 2]
    assert demos == sample_demonstrations(rows, "label", per_class=2, seed=7)
    ordered = sample_demonstrations(rows, "label", per_class=1, seed=7, shuffle=False)
    assert [d["label"] for d in ordered] == [0, 1, 2]
    with pytest.raises(ValueError, match="fewer than"):
        sample_demonstrations(rows, "label", per_class=11, seed=0)
