#!/usr/bin/env bash
# Interop with real clients: starts the reference broker binary on free loopback ports (TCP and
# TLS) and drives Debian's mosquitto_pub / mosquitto_sub (package mosquitto-clients) against it
# under MQTT 3.1.1 and 5.0: QoS 0/1/2, retained messages, a will after kill -9, + and #
# wildcards, a shared subscription, and TLS. Prints one PASS/FAIL line per check and exits
# non-zero if any failed. Every wait is bounded.
#
# WebSocket is not checked here: mosquitto_pub/mosquitto_sub 2.0.11 have no WebSocket
# transport. reference-broker/tests/server.rs (serves_mqtt_over_websocket_with_the_mqtt_subprotocol)
# covers it over loopback.
#
# Usage: scripts/interop.sh   (builds the broker with cargo; honours CARGO_TARGET_DIR)
set -uo pipefail
cd "$(dirname "$0")/.."

for tool in mosquitto_pub mosquitto_sub; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL setup: $tool not found (apt-get install mosquitto-clients)"
        exit 1
    fi
done

cargo build -q --locked -p mqtt-reference-broker --bin mqtt-reference-broker \
    --example self_signed_cert || { echo "FAIL setup: build"; exit 1; }
target=${CARGO_TARGET_DIR:-target}
broker_bin=$target/debug/mqtt-reference-broker

work=$(mktemp -d)
pids=()
broker_pid=
cleanup() {
    for pid in "${pids[@]}" $broker_pid; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$target/debug/examples/self_signed_cert" "$work" || { echo "FAIL setup: certificate"; exit 1; }
NO_COLOR=1 "$broker_bin" --listen 127.0.0.1:0 --tls-listen 127.0.0.1:0 \
    --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" 2>"$work/broker.log" &
broker_pid=$!
# The broker binds port 0 and logs the addresses it got.
if ! timeout 10 bash -c "until grep -q 'broker listening' '$work/broker.log'; do sleep 0.05; done"; then
    echo "FAIL setup: broker did not start"
    cat "$work/broker.log"
    exit 1
fi
port=$(sed -n 's/.*tcp_addr=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/broker.log" | head -n1)
tls_port=$(sed -n 's/.*tls_addr=Some(127\.0\.0\.1:\([0-9]*\)).*/\1/p' "$work/broker.log" | head -n1)
if [ -z "$port" ] || [ -z "$tls_port" ]; then
    echo "FAIL setup: no listen address in the broker log"
    exit 1
fi

failures=0
pass() { echo "PASS $*"; }
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

# Every client gets the broker address and a bounded run time.
pub() { timeout 10 mosquitto_pub -h 127.0.0.1 -p "$port" "$@"; }

# Starts mosquitto_sub in the background (debug output, so its SUBACK shows), waits until it
# is subscribed, and leaves its pid in $sub_pid. The first argument names the output file.
start_sub() {
    local out=$1
    shift
    # Line-buffered, so the SUBACK line reaches the file while the client runs.
    timeout 20 stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -d "$@" >"$out" 2>&1 &
    sub_pid=$!
    pids+=("$sub_pid")
    timeout 10 bash -c "until grep -qs 'received SUBACK' '$out'; do sleep 0.05; done"
}

# Waits up to 10 s for a subscriber to exit (it was started with -C N).
await_sub() { timeout 10 tail --pid="$1" -f /dev/null; }

# Whether `file` has `line` as a whole line.
has_line() { grep -qxF -- "$2" "$1"; }

for v in mqttv311 mqttv5; do
    t=interop/$v

    for q in 0 1 2; do
        out=$work/$v-qos$q
        if start_sub "$out" -V "$v" -t "$t/qos$q" -q "$q" -C 1 &&
            pub -V "$v" -t "$t/qos$q" -q "$q" -m "qos$q-$v" &&
            await_sub "$sub_pid" && has_line "$out" "qos$q-$v"; then
            pass "$v qos $q publish and subscribe"
        else
            fail "$v qos $q publish and subscribe"
        fi
    done

    out=$work/$v-retained
    if pub -V "$v" -t "$t/retained" -q 1 -r -m "kept-$v" &&
        timeout 10 mosquitto_sub -h 127.0.0.1 -p "$port" -V "$v" -t "$t/retained" -C 1 -v \
            >"$out" 2>&1 &&
        has_line "$out" "$t/retained kept-$v"; then
        pass "$v retained message delivered to a later subscriber"
    else
        fail "$v retained message delivered to a later subscriber"
    fi
    pub -V "$v" -t "$t/retained" -r -n

    # The dying client runs without `timeout` in front, so kill -9 hits mosquitto_sub itself
    # (stdbuf execs it) and the broker sees the socket close without DISCONNECT.
    out=$work/$v-will
    dying_out=$work/$v-dying
    if start_sub "$out" -V "$v" -t "$t/will" -C 1; then
        watcher=$sub_pid
        stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -d -V "$v" -t "$t/unused" \
            -i "dying-$v" --will-topic "$t/will" --will-payload "gone-$v" --will-qos 1 \
            >"$dying_out" 2>&1 &
        dying=$!
        pids+=("$dying")
        if timeout 10 bash -c "until grep -qs 'received SUBACK' '$dying_out'; do sleep 0.05; done"; then
            { kill -9 "$dying" && wait "$dying"; } 2>/dev/null
            if await_sub "$watcher" && has_line "$out" "gone-$v"; then
                pass "$v will published after kill -9"
            else
                fail "$v will published after kill -9"
            fi
        else
            fail "$v will published after kill -9 (client did not connect)"
        fi
    else
        fail "$v will published after kill -9 (watcher did not subscribe)"
    fi

    out=$work/$v-plus
    if start_sub "$out" -V "$v" -t "$t/plus/+/c" -C 1 &&
        pub -V "$v" -t "$t/plus/b/x/c" -m "no-match-$v" &&
        pub -V "$v" -t "$t/plus/b/c" -m "plus-$v" &&
        await_sub "$sub_pid" && has_line "$out" "plus-$v" && ! has_line "$out" "no-match-$v"; then
        pass "$v + matches exactly one level"
    else
        fail "$v + matches exactly one level"
    fi

    out=$work/$v-hash
    if start_sub "$out" -V "$v" -t "$t/hash/#" -C 2 &&
        pub -V "$v" -t "$t/hash" -m "parent-$v" &&
        pub -V "$v" -t "$t/hash/a/b" -m "deep-$v" &&
        await_sub "$sub_pid" && has_line "$out" "parent-$v" && has_line "$out" "deep-$v"; then
        pass "$v # matches the parent and every level below"
    else
        fail "$v # matches the parent and every level below"
    fi

    # Two members of one share group: each message goes to exactly one of them.
    a=$work/$v-share-a
    b=$work/$v-share-b
    if start_sub "$a" -V "$v" -t "\$share/g/$t/shared" -q 1 && member_a=$sub_pid &&
        start_sub "$b" -V "$v" -t "\$share/g/$t/shared" -q 1 && member_b=$sub_pid; then
        for i in $(seq 1 10); do
            pub -V "$v" -t "$t/shared" -q 1 -m "shared-$i"
        done
        count() { cat "$a" "$b" | grep -cx 'shared-[0-9]*'; }
        timeout 10 bash -c "until [ \"\$(cat '$a' '$b' | grep -cx 'shared-[0-9]*')\" -ge 10 ]; do sleep 0.05; done"
        # A short grace period in which a duplicate would show up.
        sleep 0.5
        kill "$member_a" "$member_b" 2>/dev/null
        unique=$(cat "$a" "$b" | grep -x 'shared-[0-9]*' | sort -u | wc -l)
        if [ "$(count)" -eq 10 ] && [ "$unique" -eq 10 ]; then
            pass "$v shared subscription delivers each message to one member"
        else
            fail "$v shared subscription delivers each message to one member ($(count) received)"
        fi
    else
        fail "$v shared subscription (setup)"
    fi

    out=$work/$v-tls
    tls=(-h 127.0.0.1 -p "$tls_port" --cafile "$work/cert.pem" -V "$v")
    timeout 20 stdbuf -oL mosquitto_sub "${tls[@]}" -d -t "$t/tls" -q 1 -C 1 >"$out" 2>&1 &
    sub_pid=$!
    pids+=("$sub_pid")
    if timeout 10 bash -c "until grep -qs 'received SUBACK' '$out'; do sleep 0.05; done" &&
        timeout 10 mosquitto_pub "${tls[@]}" -t "$t/tls" -q 1 -m "tls-$v" &&
        await_sub "$sub_pid" && has_line "$out" "tls-$v"; then
        pass "$v publish and subscribe over TLS"
    else
        fail "$v publish and subscribe over TLS"
        cat "$out"
    fi
done

echo "SKIP websocket: mosquitto clients 2.0.11 have no WebSocket transport;" \
    "see reference-broker/tests/server.rs"

if [ "$failures" -ne 0 ]; then
    echo "interop: $failures check(s) failed"
    exit 1
fi
echo "interop: all checks passed"
