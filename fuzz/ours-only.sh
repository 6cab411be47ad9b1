#!/bin/sh
# A rustc wrapper that keeps libFuzzer's coverage instrumentation on this project's crates
# (`mqtt_*`) and takes it off every other crate (bytes, libfuzzer-sys, serde_yaml, ...).
#
#   RUSTC_WRAPPER=fuzz/ours-only.sh cargo +nightly fuzz run --target-dir fuzz/target/ours-only ...
#
# libFuzzer scans every coverage counter after each run and turns each one that was hit into
# a feature to look up, so uninstrumented dependencies make a run cheaper; the fuzzer then
# steers by our code alone. fuzz/README.md ("Speed") has the figures and the full command.
# Cargo calls a wrapper as `wrapper rustc ARGS...`.
set -eu
rustc=$1
shift

crate=
previous=
for arg in "$@"; do
    if [ "$previous" = "--crate-name" ]; then
        crate=$arg
    fi
    previous=$arg
done

case $crate in
mqtt_*) exec "$rustc" "$@" ;;
esac

# Rebuild the argument list without the coverage flags cargo-fuzz puts in RUSTFLAGS.
count=$#
while [ "$count" -gt 0 ]; do
    arg=$1
    shift
    count=$((count - 1))
    case $arg in
    -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage*) ;;
    *) set -- "$@" "$arg" ;;
    esac
done
exec "$rustc" "$@"
