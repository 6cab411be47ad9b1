#!/usr/bin/env bash
# Installs what the test suite needs beyond cargo, if it is missing:
#   - Debian's mosquitto and mosquitto-clients (interop tests and the suite against a real broker)
#   - Debian's chromium (a test opens certify's HTML matrix in headless Chromium)
#   - cargo-fuzz (the fuzz smoke run; needs the nightly toolchain, which it does not install)
# Safe to run again: each step is skipped when its tool is already there.
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-deps: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] || ! command -v mosquitto_pub >/dev/null 2>&1; then
    echo "install-deps: installing mosquitto and mosquitto-clients" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "install-deps: installing chromium" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# Debian starts the packaged service on install where an init system runs; the tests start
# their own instances on free loopback ports and never use the system one.

if [ "${1:-}" = "--fuzz" ]; then
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "install-deps: installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
fi
