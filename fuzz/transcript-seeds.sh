#!/usr/bin/env bash
# Seeds from recorded scenario runs: runs the whole scenario corpus against the in-process
# reference broker with `--record`, turns the transcripts into seeds (fuzz/seeds, names
# `seed-tx-*`), and commits to fuzz/corpus/<target>/ only the smallest set of them that covers
# every edge the whole set reaches, so the committed corpus stays small.
#
#   fuzz/transcript-seeds.sh
#
# Needs the nightly toolchain and cargo-fuzz (scripts/install-deps.sh --fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo run --release -q -p mqtt-conformance -- run --record "$work/transcripts" >/dev/null
cargo run --release -q --manifest-path fuzz/Cargo.toml -p mqtt-fuzz-seeds -- \
    "$work/seeds" --transcripts "$work/transcripts"

cd fuzz
cargo +nightly fuzz build -s none
bin=target/x86_64-unknown-linux-gnu/release
for target in decode roundtrip framing engine; do
    rm -f corpus/"$target"/seed-tx-*
    mkdir -p "$work/min/$target"
    # -set_cover_merge names what it keeps by content hash; map the hashes back to the names.
    "$bin/$target" -set_cover_merge=1 "$work/min/$target" "$work/seeds/$target" \
        >"$work/$target.log" 2>&1
    declare -A names=()
    for f in "$work/seeds/$target"/*; do
        names["$(sha1sum "$f" | cut -d' ' -f1)"]="$(basename "$f")"
    done
    kept=0
    for f in "$work/min/$target"/*; do
        name="${names[$(basename "$f")]:-}"
        [ -n "$name" ] || continue
        cp "$f" "corpus/$target/$name"
        kept=$((kept + 1))
    done
    unset names
    echo "transcript seeds: $target: kept $kept of $(ls "$work/seeds/$target" | wc -l)"
done
