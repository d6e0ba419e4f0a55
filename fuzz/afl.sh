#!/usr/bin/env bash
# Builds the fuzz targets, instruments TsmLab.dll with SharpFuzz and runs AFL++ on one target.
#   fuzz/afl.sh TARGET [SECONDS] [OUTDIR]      (see fuzz/README.md; needs afl++ and the sharpfuzz tool)
set -euo pipefail
target=${1:?target (tsmlab-fuzz list)}
seconds=${2:-600}
out=${3:-fuzz/findings}
here=$(cd "$(dirname "$0")" && pwd)
bin=${FUZZ_BIN:-/tmp/tsmlab-fuzz-bin}
export PATH="$PATH:$HOME/.dotnet/tools"
if [ ! -f "$bin/.instrumented" ]; then
  dotnet publish "$here/TsmLab.Fuzz" -c Release -o "$bin" >/dev/null
  sharpfuzz "$bin/TsmLab.dll"
  touch "$bin/.instrumented"
fi
export AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
mkdir -p "$out"
timeout --signal=INT "$seconds" afl-fuzz -i "$here/corpus/$target" -o "$out/$target" -t 5000 -m none -- "$bin/tsmlab-fuzz" run "$target" >"$out/$target.log" 2>&1 || true
grep -E "^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg)" "$out/$target/default/fuzzer_stats"
