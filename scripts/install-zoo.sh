#!/usr/bin/env bash
# Installs the brokers .ci/certify certifies, from their ordinary registries, when they are
# missing: Debian's mosquitto, nats-server, rabbitmq-server and activemq (with
# libmqtt-client-java, the MQTT codec ActiveMQ's transport needs), and aedes 1.2.0 from npm into
# DIR (default target/zoo-node). Prints the node_modules folder holding aedes. Needs root (or
# sudo) for apt. While the Debian packages install, a policy-rc.d keeps their system services
# from starting: certification starts its own instances on free loopback ports.
# Safe to run again: what is present is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-target/zoo-node}"
export PATH="$PATH:/usr/sbin:/usr/lib/rabbitmq/bin"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-zoo: need root (or sudo) to run: $*" >&2
        return 1
    fi
}

missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v nats-server >/dev/null || missing+=(nats-server)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || [ -x /usr/sbin/rabbitmq-server ] || missing+=(rabbitmq-server)
[ -d /usr/share/activemq ] || missing+=(activemq)
[ -d /usr/share/java ] && ls /usr/share/java/mqtt-client*.jar >/dev/null 2>&1 || missing+=(libmqtt-client-java)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install-zoo: apt-get install ${missing[*]}" >&2
    policy=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy"
        made_policy=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    [ -z "$made_policy" ] || as_root rm -f "$policy"
fi

if ! node -e "process.exit(require('$(realpath -m "$dir")/node_modules/aedes/package.json').version === '1.2.0' ? 0 : 1)" 2>/dev/null; then
    echo "install-zoo: npm install aedes@1.2.0 into $dir" >&2
    mkdir -p "$dir"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error --no-save aedes@1.2.0 >&2)
fi
realpath "$dir/node_modules"
