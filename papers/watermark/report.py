"""Tables of finished watermark runs (the README's results section).

    .venv/bin/python -m papers.watermark.report [runs/watermark ...]

Runs are grouped by generator; each value is the mean ± sample std over the newest run per seed
that logged it. The paper plots its comparisons (success vs PPL, robustness curves); where it
states a number in the text it stands in the paper column, else "-".
"""

from __future__ import annotations

from collections.abc import Sequence

from common.report import Run, format_mean, report_cli, seed_values

METHODS = ("balance", "vanilla")


def _v(values: dict[str, list[float]], metric: str, scale: float = 1.0, digits: int = 2) -> str:
    return format_mean((v * scale for v in values.get(metric, [])), digits)


def _ppl(values: dict[str, list[float]], key: str) -> str:
    return f"{_v(values, f'{key}/ppl')} ({_v(values, f'{key}/ppl_median')})"


def _deltas(values: dict[str, list[float]], method: str) -> list[str]:
    found = {k.split("/")[1][len("delta"):] for k in values
             if k.startswith(f"{method}/delta") and k.endswith("/success")}
    return sorted(found, key=float)


def tradeoff(values: dict[str, list[float]], model: str) -> list[str]:
    out = [f"### Success vs quality, {model} (success, bit accuracy, confidence: %)", "",
           "| method | delta | success | bit acc. | confidence | oracle PPL mean (median) | "
           "generation time (x plain) | decode s/text |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |",
           f"| no watermark | - | - | - | - | {_ppl(values, 'plain')} | 1.00 | - |"]
    for method in METHODS:
        for d in _deltas(values, method):
            key = f"{method}/delta{d}"
            out.append(f"| {method}-marking | {d} | {_v(values, f'{key}/success', 100, 1)} | "
                       f"{_v(values, f'{key}/bit_acc', 100, 1)} | "
                       f"{_v(values, f'{key}/confidence', 100, 1)} | {_ppl(values, key)} | "
                       f"{_v(values, f'{key}/time/generation_ratio')} | "
                       f"{_v(values, f'{key}/time/decode_seconds')} |")
    if "kgw/z" in values:
        out.append(f"| KGW (zero-bit; z = {_v(values, 'kgw/z')}, detected at z > 4: "
                   f"{_v(values, 'kgw/detected', 100, 0)} %) | - | - | - | - | "
                   f"{_ppl(values, 'kgw')} | {_v(values, 'kgw/time/generation_ratio')} | - |")
    return out


def human(values: dict[str, list[float]], model: str) -> list[str]:
    if not any(k.startswith("human/") for k in values):
        return []
    out = [f"### Decoding unwatermarked text, {model} (confidence %: mean / max)", "",
           "| method | human continuations | unwatermarked generations | success on human "
           "(chance 2^-L) | watermarked texts above the human max |",
           "| --- | --- | --- | --- | --- |"]
    for method in METHODS:
        h = f"human/{method}"
        if f"{h}/human_confidence" not in values:
            continue
        out.append(f"| {method} | {_v(values, f'{h}/human_confidence', 100, 1)} / "
                   f"{_v(values, f'{h}/human_confidence_max', 100, 1)} | "
                   f"{_v(values, f'{h}/plain_confidence', 100, 1)} / "
                   f"{_v(values, f'{h}/plain_confidence_max', 100, 1)} | "
                   f"{_v(values, f'{h}/human_success', 100, 1)} | "
                   f"{_v(values, f'{h}/above_human_max', 100, 0)} % |")
    out.append(f"| KGW z on human text | {_v(values, 'human/kgw/z')} | | | |")
    return out


def robustness(values: dict[str, list[float]], model: str) -> list[str]:
    attacks = sorted({k.split("/")[2] for k in values if k.startswith("robust/")})
    if not attacks:
        return []
    out = [f"### Robustness, {model}: success / bit accuracy (%)", "",
           "| attack | " + " | ".join(f"{m}-marking" for m in METHODS) + " |",
           "| --- |" + " --- |" * len(METHODS)]
    for attack in attacks:
        out.append(f"| {attack} | " + " | ".join(
            f"{_v(values, f'robust/{m}/{attack}/success', 100, 1)} / "
            f"{_v(values, f'robust/{m}/{attack}/bit_acc', 100, 1)}" for m in METHODS) + " |")
    return out


def coding(values: dict[str, list[float]], model: str) -> list[str]:
    ratios = sorted({k.split("/")[2][len("ratio"):] for k in values
                     if k.startswith("coding/") and "/ratio" in k}, key=float)
    if not ratios:
        return []
    out = [f"### Coding rate, {model}: success (%) against tokens per bit", "",
           "| method | " + " | ".join(f"{r} tokens/bit" for r in ratios)
           + " | bits per token at the target |", "| --- |" + " --- |" * (len(ratios) + 1)]
    for method in METHODS:
        out.append(f"| {method} | " + " | ".join(
            _v(values, f"coding/{method}/ratio{r}/success", 100, 1) for r in ratios)
            + f" | {_v(values, f'coding/{method}/bits_per_token', 1, 3)} |")
    return out


def report(runs: Sequence[Run]) -> str:
    out: list[str] = []
    for (model,), values in sorted(seed_values(runs, ("model.name",)).items()):
        for table in (tradeoff, human, robustness, coding):
            lines = table(values, model)
            out += lines + ([""] if lines else [])
    return "\n".join(out)


if __name__ == "__main__":
    raise SystemExit(report_cli("watermark", __doc__, report))
