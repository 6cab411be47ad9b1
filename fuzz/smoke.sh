#!/usr/bin/env bash
# Builds every fuzz target and runs each for a short while from its committed seeds.
#
#   fuzz/smoke.sh [SECONDS]        # per target, default 30
#   FUZZ_SANITIZER=address fuzz/smoke.sh 60
#
# Needs the nightly toolchain and cargo-fuzz (scripts/install-deps.sh --fuzz). New corpus
# entries go to a temporary directory, so the committed corpus is left as it is. Exits
# non-zero on the first crash, hang (-timeout) or out-of-memory, naming the reproducer.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
# The codec, broker and runner have no unsafe code, so the default run skips AddressSanitizer
# for speed; set FUZZ_SANITIZER=address to run with it.
sanitizer="${FUZZ_SANITIZER:-none}"

echo "fuzz smoke: building all targets (sanitizer: $sanitizer)"
cargo +nightly fuzz build -s "$sanitizer"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=0
for target in $(cargo +nightly fuzz list); do
    mkdir -p "corpus/$target" "artifacts/$target" "$scratch/$target"
    echo "fuzz smoke: $target for ${seconds}s"
    log="$scratch/$target.log"
    if cargo +nightly fuzz run -s "$sanitizer" "$target" "$scratch/$target" "corpus/$target" -- \
        -dict=mqtt.dict -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
            "$log" | sed "s/^/  $target: /" || true
    else
        failed=1
        echo "fuzz smoke: $target FAILED; last lines of its log:" >&2
        tail -n 40 "$log" >&2
        echo "fuzz smoke: reproducer(s) in fuzz/artifacts/$target/:" >&2
        ls -1 "artifacts/$target" >&2 || true
        break
    fi
done
exit "$failed"
