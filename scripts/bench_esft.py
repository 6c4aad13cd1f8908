"""What each fine-tuning method costs on the same tiny DeepSeek-V2 MoE (``esft-tiny-moe``'s
architecture, seeded random weights, a 2,048-token BPE trained on the synthetic domains):
trainable parameters, optimizer-state memory after a step, mean AdamW step time on the same
batches of the math task, and checkpoint size. ESFT's experts are selected by probing the model
(token ratio p = 0.2, gate score p = 0.1), as in the experiment. Ends with `ratio` lines (ESFT
and LoRA against FFT, the same run).

    .venv/bin/python scripts/bench_esft.py [--steps 20] [--batch 16] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf


def _model_and_tokenizer():
    from transformers import DeepseekV2ForCausalLM

    from common.text.tokenizers import configure
    from papers.esft.backbone import moe_config, train_tokenizer
    from papers.esft.corpus import GENERATORS, synthetic

    arch = OmegaConf.to_container(OmegaConf.load(
        Path(__file__).resolve().parent.parent / "configs/model/esft-tiny-moe.yaml").architecture)
    tok = configure(train_tokenizer([t for d in GENERATORS for t in synthetic(d, 2000, 0)], 2048),
                    add_bos=False)
    torch.manual_seed(0)
    return DeepseekV2ForCausalLM(moe_config(arch, tok)), tok


def _optimizer_bytes(optimizer: torch.optim.Optimizer) -> int:
    return sum(v.numel() * v.element_size() for state in optimizer.state.values()
               for v in state.values() if torch.is_tensor(v) and v.dim() > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from papers.esft.corpus import task_splits
    from papers.esft.finetune import collate, encode_example, with_lora
    from papers.esft.freezing import count_trainable, save_esft, to_esft
    from papers.esft.routing import probe_scores, select_all

    base, tok = _model_and_tokenizer()
    train, _ = task_splits("math", args.batch * (args.steps + 2), 1, 0)
    pad = collate(tok.pad_token_id, torch.device("cpu"))
    rows = [encode_example(tok, ex) for ex in train]
    batches = [pad(rows[i:i + args.batch]) for i in range(0, len(rows), args.batch)]
    probe = [{k: v for k, v in b.items() if k != "labels"} for b in batches[:4]]
    scores = probe_scores(base, probe)
    selections = {"esft_token": select_all(scores["token"], 0.2),
                  "esft_gate": select_all(scores["gate"], 0.1)}

    def prepare(method: str) -> torch.nn.Module:
        model = copy.deepcopy(base)
        if method == "fft":
            return model
        if method == "lora":
            return with_lora(model, 8, 16)
        return to_esft(model, selections[method])

    print(f"tiny MoE: {sum(p.numel() for p in base.parameters()):,} parameters, "
          f"{args.steps} steps of {args.batch} math examples, {args.threads} thread(s)\n")
    print("| method | trainable | optimizer state | step time | vs FFT | checkpoint |")
    print("| --- | --- | --- | --- | --- | --- |")
    fft_time = None
    measured: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("fft", "lora", "esft_token", "esft_gate"):
            model = prepare(method).train()
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
            times = []
            for i, batch in enumerate(batches[: args.steps + 2]):
                start = time.perf_counter()
                model(**batch).loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                if i >= 2:  # the first steps allocate the optimizer state
                    times.append(time.perf_counter() - start)
            step = sum(times) / len(times)
            fft_time = fft_time or step
            folder = Path(tmp) / method
            if method.startswith("esft"):
                size = save_esft(model, folder.with_suffix(".safetensors"))
            else:
                model.save_pretrained(str(folder))
                size = sum(f.stat().st_size for f in folder.rglob("*.safetensors"))
            print(f"| {method} | {count_trainable(model):,} | "
                  f"{_optimizer_bytes(optimizer) / 1e6:.2f} MB | {1e3 * step:.1f} ms | "
                  f"{step / fft_time:.2f}x | {size / 1e6:.3f} MB |")
            measured[method] = (step, size)
    for method in ("esft_token", "esft_gate", "lora"):
        print(f"ratio step_time {method}/fft = {measured[method][0] / measured['fft'][0]:.3f}  "
              f"ratio checkpoint {method}/fft = {measured[method][1] / measured['fft'][1]:.3f}")


if __name__ == "__main__":
    main()
