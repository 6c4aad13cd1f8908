"""The fine-tuning methods ESFT is compared with (§4.1) and their evaluation.

- ``fft``: every parameter trains; ``lora``: rank-r adapters on every linear weight but the
  embeddings and the head, and on the fused routed experts (``peft`` ``target_parameters``);
  both mix general (pretraining-domain) data into the task data 1:1, as the paper does;
- ``esft_token`` / ``esft_gate``: the experts selected by the token selection ratio (p = 0.2) /
  the average gate score (p = 0.1), task data only;
- ablations: ``*_random`` (as many random experts per layer) and ``*_shared`` (shared experts
  also trainable).

Task examples are ``prompt + answer + EOS`` with the loss on the answer only; general rows are
packed pretraining-domain sequences with the loss everywhere.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from common.text.generation import generate
from common.text.tokenizers import encode
from papers.esft.corpus import Example

IGNORE = -100


def encode_example(tokenizer, ex: Example) -> dict[str, list[int]]:
    """Token ids of prompt (BOS per the model's policy) + answer + EOS and labels masking the
    prompt."""
    prompt = encode(tokenizer, ex.prompt)
    answer = tokenizer(ex.answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt + answer, "labels": [IGNORE] * len(prompt) + answer}


def general_rows(sequences: Tensor) -> list[dict[str, list[int]]]:
    """Packed general sequences as rows with the loss on every token."""
    return [{"input_ids": s.tolist(), "labels": s.tolist()} for s in sequences]


def collate(pad_id: int, device: torch.device):
    """Right-padded ``input_ids`` / ``attention_mask`` / ``labels`` (IGNORE at pads)."""

    def fn(rows: list[dict[str, list[int]]]) -> dict[str, Tensor]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id)
        labels = torch.full((len(rows), width), IGNORE)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = (torch.tensor(r["input_ids"]),
                                                     torch.tensor(r["labels"]), 1)
        return {"input_ids": ids.to(device), "attention_mask": mask.to(device),
                "labels": labels.to(device)}

    return fn


def lora_targets(model: nn.Module) -> tuple[list[str], list[str]]:
    """LoRA's targets: the names of every ``nn.Linear`` but the LM head, and the fused routed
    expert tensors (``experts.gate_up_proj`` / ``experts.down_proj``) if the model has them."""
    linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules()
                     if isinstance(m, nn.Linear) and not n.endswith("lm_head")})
    fused = [f"experts.{p}" for p in ("gate_up_proj", "down_proj")
             if any(n.endswith(f"experts.{p}") for n, _ in model.named_parameters())]
    return linear, fused


def with_lora(model: nn.Module, rank: int, alpha: int) -> nn.Module:
    """The model wrapped by ``peft`` LoRA (rank ``rank``, scale ``alpha``, no dropout)."""
    import peft

    linear, fused = lora_targets(model)
    config = peft.LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=linear,
                             target_parameters=fused or None, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, config)


def exact_match(model: nn.Module, tokenizer, examples: list[Example], max_new_tokens: int,
                batch_size: int = 64) -> tuple[float, list[str]]:
    """Share of ``examples`` whose greedy continuation (up to EOS or a newline) equals the
    answer, ignoring surrounding spaces; and the predictions."""
    model.eval()
    prompts = [encode(tokenizer, ex.prompt) for ex in examples]
    outs = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens,
                    batch_size=batch_size)
    preds = [o.text.split("\n", 1)[0].strip() for o in outs]
    hits = [p == ex.answer.strip() for p, ex in zip(preds, examples, strict=True)]
    return sum(hits) / len(hits), preds


@torch.no_grad()
def general_ability(model: nn.Module, heldout: dict[str, Tensor], batch_size: int = 32
                    ) -> dict[str, float]:
    """Per pretraining domain: next-token accuracy and loss on held-out sequences; ``acc``
    and ``loss`` are their means over domains (our stand-in for the paper's general
    benchmarks: what fine-tuning must not destroy)."""
    model.eval()
    device = next(model.parameters()).device
    out: dict[str, float] = {}
    for domain, seqs in heldout.items():
        correct = total = 0
        nll = 0.0
        for start in range(0, len(seqs), batch_size):
            ids = seqs[start:start + batch_size].to(device)
            logits = model(input_ids=ids).logits[:, :-1].float()
            target = ids[:, 1:]
            nll += float(torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum"))
            correct += int((logits.argmax(-1) == target).sum())
            total += target.numel()
        out[f"{domain}/acc"], out[f"{domain}/loss"] = correct / total, nll / total
    domains = list(heldout)
    out["acc"] = sum(out[f"{d}/acc"] for d in domains) / len(domains)
    out["loss"] = sum(out[f"{d}/loss"] for d in domains) / len(domains)
    return out
