#!/usr/bin/env bash
# Measure what the README promises on a fresh clone: `make setup`, `make test`, `make demo`.
#   bash scripts/time_readme.sh            (make timings; ~10 min on 2 cores)
# The clone goes beside this checkout so that ../shared/data (the mirror) resolves as in CI; it is
# removed afterwards. Paste the printed line into the README's "Two commands" section.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
clone="$(dirname "$here")/timing-$(date +%Y%m%d-%H%M%S)"
trap 'rm -rf "$clone"' EXIT
git clone -q "$here" "$clone"
cd "$clone"
seconds() { local start=$SECONDS; "$@" > "$clone.$1.$2.log" 2>&1 || { tail -20 "$clone.$1.$2.log" >&2; exit 1; }; echo $((SECONDS - start)); }
setup=$(seconds make setup)
test=$(seconds make test)
demo=$(seconds make demo)
tests=$(grep -Eo '[0-9]+ passed' "$clone.make.test.log" | tail -1)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
fmt() { printf '%d min %02d s' $(($1 / 60)) $(($1 % 60)); }
echo "Measured $(date +%Y-%m-%d) on $(nproc) cores ($cpu), load $(cut -d' ' -f1 /proc/loadavg):" \
     "setup $(fmt "$setup"), make test $(fmt "$test") ($tests), make demo $(fmt "$demo")."
rm -f "$clone".make.*.log
