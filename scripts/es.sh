#!/usr/bin/env bash
# A throwaway, single-node Elasticsearch for tests and local development.
#
#   bash scripts/es.sh start    # fetch (Maven Central) + unpack once, start, wait, print URL
#   bash scripts/es.sh stop     # SIGTERM, wait, then SIGKILL
#   bash scripts/es.sh status   # exit 0 iff the cluster answers green/yellow
#   bash scripts/es.sh url      # print the URL
#
# The distribution is org.elasticsearch.distribution.integ-test-zip:elasticsearch,
# the minimal build Elastic publishes to Maven Central (no bundled JDK; modules:
# transport-netty4, apm, x-pack-core, x-pack-security only; so no analysis-common,
# reindex, painless, RRF, ML, ingest-geoip ...). Maven caches it in ~/.m2.
#
# Environment (all optional):
#   ES_VERSION          distribution version (default below)
#   ES_PORT             HTTP port, default 9250 (not 9200, to avoid a real ES)
#   ES_TRANSPORT_PORT   transport port, default ES_PORT+100 (9350)
#   ES_HOME_DIR         where the distribution is unpacked
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/sourcing-search/elasticsearch-<ver>;
#                        as root /var/cache/sourcing-search/elasticsearch-<ver>, because the
#                        unprivileged user ES runs as cannot read root's 0700 home)
#   ES_RUN_DIR          config/data/logs/pid dir, default ${TMPDIR:-/tmp}/sourcing-search-es-<port>
#   ES_KEEP_DATA=1      keep data/logs on start (default: wiped, so tests start clean)
#   ES_JAVA_HOME        JDK 17+ to run ES with (default: newest JDK 17+ found)
#   ES_JAVA_OPTS        extra JVM options, appended after the default -Xms512m -Xmx1g
#   ES_START_TIMEOUT    seconds to wait for the cluster to turn yellow, default 120
#   ES_RUN_USER         user to run as when invoked as root, default esrunner
set -euo pipefail

ES_VERSION="${ES_VERSION:-8.19.21}"
ES_PORT="${ES_PORT:-9250}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
ES_HOST=127.0.0.1
ES_URL="http://${ES_HOST}:${ES_PORT}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
ES_RUN_USER="${ES_RUN_USER:-esrunner}"
ES_ARTIFACT="org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip"

if [[ ${EUID} -eq 0 ]]; then
  ES_CACHE_ROOT="/var/cache/sourcing-search"
else
  ES_CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/sourcing-search"
fi
ES_HOME_DIR="${ES_HOME_DIR:-${ES_CACHE_ROOT}/elasticsearch-${ES_VERSION}}"
ES_RUN_DIR="${ES_RUN_DIR:-${TMPDIR:-/tmp}/sourcing-search-es-${ES_PORT}}"
PID_FILE="${ES_RUN_DIR}/es.pid"
CLI_LOG="${ES_RUN_DIR}/es-cli.log"
CLUSTER_NAME="sourcing-search-es"
SERVER_LOG="${ES_RUN_DIR}/logs/${CLUSTER_NAME}.log"

log() { printf 'es.sh: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- helpers

health_json() {
  curl -fsS --max-time 3 "${ES_URL}/_cluster/health" 2>/dev/null
}

is_healthy() {
  local body
  body="$(health_json)" || return 1
  [[ ${body} =~ \"status\":\"(green|yellow)\" ]]
}

read_pid() {
  local pid=""
  [[ -s ${PID_FILE} ]] && pid="$(tr -dc '0-9' <"${PID_FILE}")"
  printf '%s' "${pid}"
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

print_log_tail() {
  # In -d mode the CLI log also holds the server's early output; the server log has the rest.
  local f errs
  errs="$(cat "${CLI_LOG}" "${SERVER_LOG}" 2>/dev/null \
    | grep -E '\]\[(ERROR|FATAL)|^(ERROR|Error|error):|^[A-Za-z0-9_.$]+(Exception|Error): ' \
    | grep -v '^[[:space:]]' | sort -u | tail -n 10 || true)"
  if [[ -n ${errs} ]]; then
    log "---- errors ----"
    printf '%s\n' "${errs}" | cut -c1-400 >&2
  fi
  f="${SERVER_LOG}"
  [[ -s ${f} ]] || f="${CLI_LOG}"
  if [[ -s ${f} ]]; then
    log "---- last lines of ${f} ----"
    tail -n 30 "${f}" | cut -c1-400 >&2 || true
  fi
  log "(full logs: ${CLI_LOG} and ${ES_RUN_DIR}/logs/)"
}

# Major version of the JDK at $1 (empty if it is not a JDK).
java_major() {
  local home="$1" v=""
  [[ -x ${home}/bin/java ]] || return 0
  if [[ -r ${home}/release ]]; then
    v="$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "${home}/release" | head -n1)"
  fi
  if [[ -z ${v} ]]; then
    v="$("${home}/bin/java" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
  fi
  v="${v#1.}"
  printf '%s' "${v%%[^0-9]*}"
}

find_java_home() {
  if [[ -n ${ES_JAVA_HOME:-} ]]; then
    local m
    m="$(java_major "${ES_JAVA_HOME}")"
    [[ -n ${m} ]] || die "ES_JAVA_HOME=${ES_JAVA_HOME} has no bin/java"
    ((m >= 17)) || die "ES_JAVA_HOME=${ES_JAVA_HOME} is Java ${m}; Elasticsearch ${ES_VERSION} needs 17+"
    printf '%s' "${ES_JAVA_HOME}"
    return
  fi
  local cands=() c best="" best_m=0 m j
  for c in /usr/lib/jvm/*; do [[ -d ${c} ]] && cands+=("$(readlink -f "${c}")"); done
  if j="$(command -v java 2>/dev/null)"; then
    cands+=("$(dirname "$(dirname "$(readlink -f "${j}")")")")
  fi
  for c in "${cands[@]}"; do
    m="$(java_major "${c}")"
    [[ -n ${m} ]] || continue
    if ((m >= 17 && m > best_m)); then best="${c}"; best_m=${m}; fi
  done
  [[ -n ${best} ]] || die "no JDK 17+ found (looked in /usr/lib/jvm and PATH). Install one (e.g. apt-get install openjdk-17-jdk-headless) or set ES_JAVA_HOME."
  printf '%s' "${best}"
}

# Run a command as the ES user (root) or as ourselves.
as_es_user() {
  if [[ ${EUID} -ne 0 ]]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "${ES_RUN_USER}" -- "$@"
  else
    setpriv --reuid="${ES_RUN_USER}" --regid="${ES_RUN_USER}" --init-groups -- "$@"
  fi
}

ensure_run_user() {
  [[ ${EUID} -eq 0 ]] || return 0
  if ! id -u "${ES_RUN_USER}" >/dev/null 2>&1; then
    log "creating system user ${ES_RUN_USER} (Elasticsearch refuses to run as root)"
    useradd -r -M -d /nonexistent -s /usr/sbin/nologin "${ES_RUN_USER}" \
      || die "could not create user ${ES_RUN_USER} (useradd -r)"
  fi
}

# ---------------------------------------------------------------- install

install_es() {
  [[ -x ${ES_HOME_DIR}/bin/elasticsearch ]] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found; install Maven (apt-get install maven)"
  local parent tmp
  parent="$(dirname "${ES_HOME_DIR}")"
  mkdir -p "${parent}"
  tmp="$(mktemp -d "${parent}/.es-unpack.XXXXXX")"
  UNPACK_TMP="${tmp}"
  trap 'rm -rf "${UNPACK_TMP:-}"' EXIT
  log "fetching ${ES_ARTIFACT} with Maven (cached in ~/.m2)"
  # Run Maven from an empty dir so that no pom.xml around us is picked up.
  if ! (cd "${tmp}" && mvn -B -Dstyle.color=never dependency:copy \
    -Dartifact="${ES_ARTIFACT}" -DoutputDirectory="${tmp}/dl") >"${tmp}/mvn.log" 2>&1; then
    grep -E 'ERROR' "${tmp}/mvn.log" | head -n 20 >&2 || tail -n 20 "${tmp}/mvn.log" >&2
    die "could not fetch ${ES_ARTIFACT} from Maven Central (is ES_VERSION=${ES_VERSION} published there?)"
  fi
  local zip="${tmp}/dl/elasticsearch-${ES_VERSION}.zip"
  [[ -f ${zip} ]] || die "Maven did not produce ${zip}"
  log "unpacking into ${ES_HOME_DIR}"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "${zip}" -d "${tmp}/x"
  elif command -v bsdtar >/dev/null 2>&1; then
    mkdir -p "${tmp}/x" && bsdtar -xf "${zip}" -C "${tmp}/x"
  else
    die "need unzip (apt-get install unzip) to unpack ${zip}"
  fi
  [[ -d ${tmp}/x/elasticsearch-${ES_VERSION} ]] || die "unexpected zip layout in ${zip}"
  chmod -R a+rX "${tmp}/x/elasticsearch-${ES_VERSION}"
  chmod a+x "${tmp}/x/elasticsearch-${ES_VERSION}"/bin/* 2>/dev/null || true
  rm -rf "${ES_HOME_DIR}"
  mv "${tmp}/x/elasticsearch-${ES_VERSION}" "${ES_HOME_DIR}"
  rm -rf "${tmp}"
  UNPACK_TMP=""
}

# ---------------------------------------------------------------- config

# Only settings this distribution registers may be written, or ES refuses to start.
# xpack.ml.enabled is registered by x-pack-core (XPackSettings) even though the
# integ-test-zip has no ML module; a distribution without x-pack-core would reject it.
write_config() {
  local conf="${ES_RUN_DIR}/config"
  rm -rf "${conf}"
  mkdir -p "${conf}" "${ES_RUN_DIR}/data" "${ES_RUN_DIR}/logs" "${ES_RUN_DIR}/tmp"
  cp -R "${ES_HOME_DIR}/config/." "${conf}/"
  {
    echo "# generated by scripts/es.sh"
    echo "cluster.name: ${CLUSTER_NAME}"
    echo "node.name: es-${ES_PORT}"
    echo "path.data: ${ES_RUN_DIR}/data"
    echo "path.logs: ${ES_RUN_DIR}/logs"
    echo "network.host: ${ES_HOST}"
    echo "http.port: ${ES_PORT}"
    echo "transport.port: ${ES_TRANSPORT_PORT}"
    echo "discovery.type: single-node"
    echo "xpack.security.enabled: false"
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    echo "action.destructive_requires_name: false"
    if [[ -d ${ES_HOME_DIR}/modules/x-pack-core ]]; then
      echo "xpack.ml.enabled: false"
    fi
  } >"${conf}/elasticsearch.yml"
}

# ---------------------------------------------------------------- commands

cmd_url() { printf '%s\n' "${ES_URL}"; }

cmd_status() {
  local body
  if body="$(health_json)" && [[ ${body} =~ \"status\":\"(green|yellow)\" ]]; then
    log "healthy (${BASH_REMATCH[1]}) at ${ES_URL}"
    return 0
  fi
  log "not healthy/reachable at ${ES_URL}"
  return 1
}

cmd_stop() {
  local pid
  pid="$(read_pid)"
  if ! pid_alive "${pid}"; then
    log "not running (no live pid in ${PID_FILE})"
    rm -f "${PID_FILE}"
    return 0
  fi
  log "stopping pid ${pid}"
  kill -TERM "${pid}" 2>/dev/null || true
  local i
  for ((i = 0; i < 60; i++)); do
    pid_alive "${pid}" || break
    sleep 0.5
  done
  if pid_alive "${pid}"; then
    log "pid ${pid} still alive after 30s, sending SIGKILL"
    kill -KILL "${pid}" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do pid_alive "${pid}" || break; sleep 0.25; done
  fi
  rm -f "${PID_FILE}"
  log "stopped"
}

wait_healthy() {
  local deadline=$((SECONDS + ES_START_TIMEOUT)) pid
  while ((SECONDS < deadline)); do
    if curl -fsS --max-time 5 "${ES_URL}/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1; then
      return 0
    fi
    pid="$(read_pid)"
    # Before the pid file appears the CLI may still be launching; after, the server must live.
    if [[ -n ${pid} ]] && ! pid_alive "${pid}"; then
      log "Elasticsearch process ${pid} died during startup"
      return 1
    fi
    sleep 1
  done
  log "timed out after ${ES_START_TIMEOUT}s waiting for ${ES_URL}/_cluster/health to be yellow"
  return 1
}

cmd_start() {
  command -v curl >/dev/null 2>&1 || die "curl not found (apt-get install curl)"
  local pid
  pid="$(read_pid)"
  if is_healthy; then
    pid_alive "${pid}" || log "note: something healthy already answers on ${ES_URL} (not started by this script's run dir ${ES_RUN_DIR})"
    cmd_url
    return 0
  fi
  if pid_alive "${pid}"; then
    log "pid ${pid} is running but not healthy yet; waiting"
    if wait_healthy; then cmd_url; return 0; fi
    print_log_tail
    log "stopping the unhealthy instance"
    cmd_stop
    exit 1
  fi
  if curl -sS --max-time 2 -o /dev/null "${ES_URL}/" 2>/dev/null; then
    die "port ${ES_PORT} is taken by something that is not a healthy Elasticsearch; set ES_PORT to another port"
  fi

  local t0=${SECONDS} java_home
  java_home="$(find_java_home)"
  install_es
  ensure_run_user
  if [[ ${EUID} -eq 0 ]] && ! runuser -u "${ES_RUN_USER}" -- test -x "${ES_HOME_DIR}/bin/elasticsearch"; then
    die "${ES_RUN_USER} cannot read ${ES_HOME_DIR}; set ES_HOME_DIR to a world-readable location"
  fi

  mkdir -p "${ES_RUN_DIR}"
  if [[ ${ES_KEEP_DATA:-0} != 1 ]]; then
    rm -rf "${ES_RUN_DIR}/data" "${ES_RUN_DIR}/logs" "${ES_RUN_DIR}/tmp"
  fi
  rm -f "${PID_FILE}" "${CLI_LOG}"
  write_config
  if [[ ${EUID} -eq 0 ]]; then
    chown -R "${ES_RUN_USER}:" "${ES_RUN_DIR}"
  fi

  local java_opts="-Xms512m -Xmx1g${ES_JAVA_OPTS:+ ${ES_JAVA_OPTS}}"
  log "starting Elasticsearch ${ES_VERSION} on ${ES_URL} (java: ${java_home}, run dir: ${ES_RUN_DIR})"
  local rc=0
  (
    cd "${ES_RUN_DIR}"
    as_es_user env -u JAVA_HOME \
      ES_JAVA_HOME="${java_home}" \
      ES_PATH_CONF="${ES_RUN_DIR}/config" \
      ES_TMPDIR="${ES_RUN_DIR}/tmp" \
      ES_JAVA_OPTS="${java_opts}" \
      "${ES_HOME_DIR}/bin/elasticsearch" -d -p "${PID_FILE}"
  ) >"${CLI_LOG}" 2>&1 </dev/null 9>&- || rc=$?
  if ((rc != 0)); then
    log "bin/elasticsearch -d exited with ${rc}"
    print_log_tail
    cmd_stop >/dev/null 2>&1 || true
    exit 1
  fi
  if ! wait_healthy; then
    print_log_tail
    cmd_stop || true
    exit 1
  fi
  log "up in $((SECONDS - t0))s (pid $(read_pid))"
  cmd_url
}

with_lock() {
  if command -v flock >/dev/null 2>&1; then
    local lock="${TMPDIR:-/tmp}/sourcing-search-es-${ES_PORT}.lock"
    exec 9>>"${lock}"
    flock -w $((ES_START_TIMEOUT + 60)) 9 || die "could not lock ${lock}"
  fi
  "$@"
}

usage() {
  echo "usage: $0 {start|stop|status|url}" >&2
  exit 2
}

case "${1:-}" in
  start) with_lock cmd_start ;;
  stop) with_lock cmd_stop ;;
  status) cmd_status ;;
  url) cmd_url ;;
  *) usage ;;
esac
