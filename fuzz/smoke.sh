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
        grep -aE '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
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

# The sweep configuration of fuzz/README.md ("Speed"): `decode` built with only this project's
# crates instrumented, run briefly so the wrapper keeps working.
if [ "$failed" = 0 ] && [ "$sanitizer" = none ]; then
    echo "fuzz smoke: decode, sweep configuration, for 10s"
    log="$scratch/sweep.log"
    mkdir -p "$scratch/sweep"
    if RUSTC_WRAPPER="$PWD/ours-only.sh" cargo +nightly fuzz run -O -s none --no-trace-compares \
        --no-default-features --target-dir target/ours-only decode "$scratch/sweep" corpus/decode -- \
        -max_len=256 -entropic=0 -reduce_inputs=0 -use_cmp=0 -max_total_time=10 -timeout=10 \
        -artifact_prefix=artifacts/decode/ -print_final_stats=1 >"$log" 2>&1; then
        grep -aE '^(INFO: Loaded 1 modules|#[0-9]+[[:space:]]+DONE|stat::average_exec_per_sec)' "$log" |
            sed "s/^/  decode (sweep): /" || true
    else
        failed=1
        echo "fuzz smoke: decode (sweep) FAILED; last lines of its log:" >&2
        tail -n 40 "$log" >&2
    fi
fi
exit "$failed"
