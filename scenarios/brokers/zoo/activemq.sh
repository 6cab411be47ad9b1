#!/bin/sh
# activemq.sh RUN PORT: Debian's ActiveMQ Classic with zoo/activemq.xml, state under RUN.
# Debian's package leaves the MQTT codec (libmqtt-client-java) off its class path; the
# instance's lib/ folder is scanned, so its jars are linked there.
set -eu
RUN=$1 PORT=$2 HERE=$(cd "$(dirname "$0")" && pwd)
AMQ=${ACTIVEMQ_HOME:-/usr/share/activemq}
mkdir -p "$RUN/lib"
for j in mqtt-client hawtdispatch hawtdispatch-transport; do
    ln -sf "/usr/share/java/$j.jar" "$RUN/lib/$j.jar"
done
printf 'log4j.rootLogger=WARN, out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\nlog4j.appender.out.layout=org.apache.log4j.PatternLayout\n' >"$RUN/log4j.properties"
exec java -Xms64m -Xmx512m -Dmqtt.port="$PORT" -Dactivemq.home="$AMQ" -Dactivemq.base="$RUN" \
    -Dactivemq.conf="$RUN" -Dactivemq.data="$RUN/data" -Dlog4j.configuration="file:$RUN/log4j.properties" \
    -jar "$AMQ/bin/activemq.jar" start "xbean:file:$HERE/activemq.xml"
