#!/bin/sh
# rabbitmq.sh RUN PORT: RabbitMQ with only its MQTT plugin, listening on 127.0.0.1:PORT, every
# file (config, data, logs, Erlang cookie) under RUN, its own epmd on a free port: nothing
# outside the process group is touched. The one user is `u` with password `p`, the credentials
# the scenarios' well-formed CONNECTs carry; anonymous MQTT clients act as that user.
set -eu
RUN=$1 PORT=$2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export HOME="$RUN" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$(free_port)"
epmd -address 127.0.0.1 -port "$ERL_EPMD_PORT" &
cat >"$RUN/rabbitmq.conf" <<CONF
listeners.tcp = none
mqtt.listeners.tcp.default = 127.0.0.1:$PORT
default_user = u
default_pass = p
mqtt.allow_anonymous = true
mqtt.default_user = u
mqtt.default_pass = p
log.console = false
CONF
echo '[rabbitmq_mqtt].' >"$RUN/enabled_plugins"
: >"$RUN/rabbitmq-env.conf"
export RABBITMQ_CONF_ENV_FILE="$RUN/rabbitmq-env.conf" RABBITMQ_CONFIG_FILE="$RUN/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$RUN/enabled_plugins" RABBITMQ_MNESIA_BASE="$RUN/mnesia" \
    RABBITMQ_LOG_BASE="$RUN/log" RABBITMQ_PID_FILE="$RUN/rabbitmq.pid" \
    RABBITMQ_NODENAME="mqttconf$PORT@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_DIST_PORT="$(free_port)" \
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}"
exec /usr/lib/rabbitmq/bin/rabbitmq-server
