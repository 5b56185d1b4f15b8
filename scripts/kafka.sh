#!/usr/bin/env bash
# Run a real single-node Apache Kafka broker (KRaft, broker+controller in one
# JVM) on loopback for development, tests and CI.
#
#   scripts/kafka.sh start     start it (no-op if a broker already answers)
#   scripts/kafka.sh stop      stop it (SIGTERM, then SIGKILL); no-op if stopped
#   scripts/kafka.sh restart   stop + start
#   scripts/kafka.sh status    exit 0 and print "running" if it answers, else 1
#   scripts/kafka.sh logs [-f] print the log path and its tail (or follow it)
#
# The broker jars come from Maven Central through scripts/kafka/pom.xml and
# are cached once. Environment (all optional):
#   SGL_KAFKA_HOME             jar cache      (~/.cache/sgl/kafka-<version>)
#   SGL_KAFKA_DATA             state dir: config, data, logs, pid ($SGL_KAFKA_HOME/run)
#   SGL_KAFKA_PORT             client port     (9092)
#   SGL_KAFKA_CONTROLLER_PORT  controller port (9093)
#   SGL_KAFKA_START_TIMEOUT    seconds to wait for readiness (90)
#   SGL_KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (30)
#   SGL_KAFKA_HEAP_OPTS        JVM heap flags ("-Xmx1g -Xms256m")
#   SGL_KAFKA_JVM_OPTS         extra JVM flags
#   SGL_KAFKA_AUTO_CREATE_TOPICS  auto.create.topics.enable (false)
#   SGL_KAFKA_EXTRA_LISTENERS  more client listeners, each named by its security protocol,
#                              e.g. "SASL_SSL://127.0.0.1:9094,SSL://127.0.0.1:9095"
#   SGL_KAFKA_EXTRA_CONFIG     a file appended to server.properties (those listeners' TLS and
#                              SASL settings; a key given again there overrides the default)
#   SGL_KAFKA_SCRAM            SCRAM credentials created when the storage is formatted, one per
#                              line, e.g. "SCRAM-SHA-512=[name=sgl,password=...]" (they are on
#                              the format command's line: throwaway test credentials only)
# Clients connect to 127.0.0.1:$SGL_KAFKA_PORT (PLAINTEXT; also the readiness probe's port).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"
CACHE="${SGL_KAFKA_HOME:-$HOME/.cache/sgl/kafka-$KAFKA_VERSION}"
LIBS="$CACHE/libs"
STATE="${SGL_KAFKA_DATA:-$CACHE/run}"
HOST=127.0.0.1
PORT="${SGL_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${SGL_KAFKA_CONTROLLER_PORT:-9093}"
START_TIMEOUT="${SGL_KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${SGL_KAFKA_STOP_TIMEOUT:-30}"
HEAP_OPTS="${SGL_KAFKA_HEAP_OPTS:--Xmx1g -Xms256m}"
AUTO_CREATE="${SGL_KAFKA_AUTO_CREATE_TOPICS:-false}"
EXTRA_LISTENERS="${SGL_KAFKA_EXTRA_LISTENERS:-}"
EXTRA_CONFIG="${SGL_KAFKA_EXTRA_CONFIG:-}"

PROPS="$STATE/server.properties"
LOG4J="$STATE/log4j2.properties"
DATA_DIR="$STATE/data"
LOG_DIR="$STATE/logs"
LOG_FILE="$LOG_DIR/kafka.log"
PID_FILE="$STATE/kafka.pid"
CLUSTER_ID_FILE="$STATE/cluster.id"

say() { printf 'kafka.sh: %s\n' "$*"; }
die() { printf 'kafka.sh: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- probing

# True when something accepts TCP connections on $HOST:$1.
port_open() {
    # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$HOST" "$1" 2>/dev/null
}

# True when a Kafka broker on $HOST:$PORT answers a Metadata request and lists
# at least one live broker. KRaft brokers only list themselves once they are
# registered with the controller and unfenced, i.e. ready to create topics.
# Pure bash (no client library): a Metadata v4 request with an empty topic list.
kafka_ready() {
    local bytes
    # shellcheck disable=SC2016 # $0/$1 expand in the inner bash
    bytes="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/$0/$1" || exit 1
        # size=24 | api_key=3 api_version=4 correlation_id="SGL1" client_id="sgl-probe"
        # | topics=[] (int32 0) allow_auto_topic_creation=false
        printf "\x00\x00\x00\x18\x00\x03\x00\x04SGL1\x00\x09sgl-probe\x00\x00\x00\x00\x00" >&3
        head -c 16 <&3 | od -An -tu1 -v
    ' "$HOST" "$PORT" 2>/dev/null)" || return 1
    # response: size(4) correlation_id(4) throttle_time_ms(4) broker_count(4)
    local -a b
    read -r -d '' -a b <<<"$bytes" || true
    [[ ${#b[@]} -eq 16 ]] || return 1
    [[ "${b[4]} ${b[5]} ${b[6]} ${b[7]}" == "83 71 76 49" ]] || return 1 # "SGL1"
    (( (b[12] << 24 | b[13] << 16 | b[14] << 8 | b[15]) > 0 ))
}

# ---------------------------------------------------------------- process

# The pid of the broker running from $STATE, or nothing. Uses the pid file and
# falls back to looking for a JVM started with this state dir's config.
broker_pid() {
    local pid cmd
    if [[ -f "$PID_FILE" ]]; then
        pid="$(tr -dc 0-9 <"$PID_FILE")"
        if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]]; then
            cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
            if [[ "$cmd" == *kafka.Kafka* && "$cmd" == *"$PROPS"* ]]; then
                echo "$pid"
                return 0
            fi
        fi
    fi
    local f
    for f in /proc/[0-9]*/cmdline; do
        cmd="$(tr '\0' ' ' 2>/dev/null <"$f" || true)"
        if [[ "$cmd" == *" kafka.Kafka $PROPS"* ]]; then
            pid="${f#/proc/}"
            echo "${pid%/cmdline}"
            return 0
        fi
    done
    return 0
}

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

lock_state() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.lock"
    flock -w $((START_TIMEOUT + STOP_TIMEOUT + 60)) 9 || die "could not lock $STATE/.lock"
}

show_log_tail() {
    local n="${1:-50}"
    if [[ -s "$LOG_FILE" ]]; then
        echo "----- last $n lines of $LOG_FILE -----" >&2
        tail -n "$n" "$LOG_FILE" >&2
        echo "-----" >&2
    else
        echo "(no log at $LOG_FILE)" >&2
    fi
}

# ---------------------------------------------------------------- setup

check_java() {
    command -v java >/dev/null || die "java not found on PATH (Kafka $KAFKA_VERSION needs Java 17+)"
    local v
    v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 17 ]] || die "java on PATH is version '$v'; Kafka $KAFKA_VERSION needs 17+"
}

# Fetch the broker jars once; a marker holding the pom's checksum makes the
# cache refresh itself when the pom changes.
fetch_jars() {
    local sum
    sum="$(sha256sum "$POM" | cut -d' ' -f1)"
    if [[ -f "$LIBS/.complete" && "$(cat "$LIBS/.complete")" == "$sum" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found on PATH (needed once to fetch Kafka jars)"
    say "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS (once)"
    mkdir -p "$CACHE"
    local tmp="$CACHE/libs.tmp.$$"
    rm -rf "$tmp"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies -DincludeScope=runtime \
            -DoutputDirectory="$tmp" >"$CACHE/mvn.log" 2>&1; then
        cat "$CACHE/mvn.log" >&2
        rm -rf "$tmp"
        die "maven could not fetch the Kafka jars"
    fi
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar after maven fetch"; }
    echo "$sum" >"$tmp/.complete"
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
}

write_config() {
    mkdir -p "$DATA_DIR" "$LOG_DIR"
    local extra="" protocols="" listener
    if [[ -n "$EXTRA_LISTENERS" ]]; then
        extra=",$EXTRA_LISTENERS"
        local -a each
        IFS=, read -r -a each <<<"$EXTRA_LISTENERS"
        for listener in "${each[@]}"; do
            [[ "$listener" =~ ^(SSL|SASL_SSL|SASL_PLAINTEXT)://[^,]+:[0-9]+$ ]] \
                || die "SGL_KAFKA_EXTRA_LISTENERS: '$listener' is not SSL|SASL_SSL|SASL_PLAINTEXT://host:port"
            protocols+=",${BASH_REMATCH[1]}:${BASH_REMATCH[1]}"
        done
    fi
    if [[ -n "$EXTRA_CONFIG" && ! -r "$EXTRA_CONFIG" ]]; then
        die "SGL_KAFKA_EXTRA_CONFIG names $EXTRA_CONFIG, which cannot be read"
    fi
    cat >"$PROPS.tmp" <<EOF
# Written by scripts/kafka.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT$extra
advertised.listeners=PLAINTEXT://$HOST:$PORT$extra
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT$protocols
log.dirs=$DATA_DIR

num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=$AUTO_CREATE
delete.topic.enable=true
group.initial.rebalance.delay.ms=0

# Internal topics on a single broker: RF 1, and few partitions so the first
# consumer group / transaction / share group comes up fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

# Small machine (2 cores).
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
    if [[ -n "$EXTRA_CONFIG" ]]; then
        printf '\n# From SGL_KAFKA_EXTRA_CONFIG (%s)\n' "$EXTRA_CONFIG" >>"$PROPS.tmp"
        cat "$EXTRA_CONFIG" >>"$PROPS.tmp"
    fi
    mv "$PROPS.tmp" "$PROPS"
    cat >"$LOG4J.tmp" <<'EOF'
# Written by scripts/kafka.sh. All output goes to stdout, which kafka.sh
# redirects to $kafka.logs.dir/kafka.log.
status = warn
name = sgl-kafka
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.zk.name = org.apache.zookeeper
logger.zk.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF
    mv "$LOG4J.tmp" "$LOG4J"
}

java_tool() { # run a Kafka main class with the cached jars
    java -cp "$LIBS/*" -Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$LOG_DIR" "$@"
}

format_storage() {
    if [[ ! -s "$CLUSTER_ID_FILE" ]]; then
        java_tool kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 | tr -d '[:space:]' >"$CLUSTER_ID_FILE.tmp"
        [[ -s "$CLUSTER_ID_FILE.tmp" ]] || die "could not generate a cluster id"
        mv "$CLUSTER_ID_FILE.tmp" "$CLUSTER_ID_FILE"
    fi
    if [[ ! -f "$DATA_DIR/meta.properties" ]]; then
        local -a scram=()
        local credential
        while IFS= read -r credential; do
            [[ -n "$credential" ]] && scram+=(--add-scram "$credential")
        done <<<"${SGL_KAFKA_SCRAM:-}"
        say "formatting storage in $DATA_DIR (cluster id $(cat "$CLUSTER_ID_FILE"))"
        java_tool kafka.tools.StorageTool format --ignore-formatted "${scram[@]}" \
            -t "$(cat "$CLUSTER_ID_FILE")" -c "$PROPS" >>"$LOG_DIR/format.log" 2>&1 \
            || { cat "$LOG_DIR/format.log" >&2; die "kafka-storage format failed"; }
    fi
}

# ---------------------------------------------------------------- commands

wait_ready() { # $1 = pid
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if kafka_ready; then
            return 0
        fi
        if ! alive "$1"; then
            echo "kafka.sh: error: broker process $1 exited during startup" >&2
            return 1
        fi
        sleep 0.5
    done
    echo "kafka.sh: error: broker not ready on $HOST:$PORT after ${START_TIMEOUT}s" >&2
    return 1
}

cmd_start() {
    if kafka_ready; then
        say "already running: a Kafka broker answers on $HOST:$PORT"
        return 0
    fi
    lock_state
    if kafka_ready; then # another start finished while we waited for the lock
        say "already running: a Kafka broker answers on $HOST:$PORT"
        return 0
    fi
    local pid
    pid="$(broker_pid)"
    if alive "$pid"; then # ours, but still starting up (or wedged)
        say "broker (pid $pid) is starting; waiting for it on $HOST:$PORT"
        if wait_ready "$pid"; then
            say "running on $HOST:$PORT (pid $pid), log: $LOG_FILE"
            return 0
        fi
        show_log_tail 50
        exit 1
    fi
    rm -f "$PID_FILE"
    local p
    for p in "$PORT" "$CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $HOST:$p is in use by another process (not a ready Kafka broker from $STATE)"
        fi
    done

    check_java
    fetch_jars
    write_config
    format_storage

    [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
    local t0=$SECONDS
    # shellcheck disable=SC2086 # HEAP_OPTS / JVM_OPTS are flag lists
    (
        exec 9>&- # do not let the broker inherit (and hold) the state lock
        cd "$STATE"
        # A broker keeps a file open per log segment and index: a suite's worth of topics
        # passes the usual limit of open files, and the broker then stops ("all log dirs
        # have failed"). Raise it as far as this user may.
        ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"
        exec setsid nohup java $HEAP_OPTS \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
            -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$LOG4J" -Dkafka.logs.dir="$LOG_DIR" \
            ${SGL_KAFKA_JVM_OPTS:-} \
            -cp "$LIBS/*" kafka.Kafka "$PROPS" </dev/null >"$LOG_FILE" 2>&1
    ) &
    pid=$!
    echo "$pid" >"$PID_FILE"
    say "starting Kafka $KAFKA_VERSION (pid $pid) on $HOST:$PORT, state in $STATE"
    if wait_ready "$pid"; then
        say "running on $HOST:$PORT (pid $pid, ready in $((SECONDS - t0))s), log: $LOG_FILE"
        return 0
    fi
    show_log_tail 50
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    exit 1
}

cmd_stop() {
    lock_state
    local pid
    pid="$(broker_pid)"
    if ! alive "$pid"; then
        rm -f "$PID_FILE"
        if kafka_ready; then
            say "not stopped: a Kafka broker answers on $HOST:$PORT but was not started from $STATE"
            exit 1
        fi
        say "not running"
        return 0
    fi
    say "stopping broker (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if alive "$pid"; then
        say "still alive after ${STOP_TIMEOUT}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$PID_FILE"
    say "stopped"
}

cmd_status() {
    local pid
    pid="$(broker_pid)"
    if kafka_ready; then
        say "running on $HOST:$PORT${pid:+ (pid $pid)}"
        return 0
    fi
    if alive "$pid"; then
        say "not ready: process $pid is alive but no broker answers on $HOST:$PORT"
    else
        say "not running"
    fi
    return 1
}

cmd_logs() {
    echo "$LOG_FILE"
    [[ -f "$LOG_FILE" ]] || { say "no log yet"; return 0; }
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 50 -F "$LOG_FILE"
    fi
    tail -n "${1:-50}" "$LOG_FILE"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop && cmd_start ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    *)
        echo "usage: $0 {start|stop|restart|status|logs [-f|N]}" >&2
        exit 2
        ;;
esac
