#!/usr/bin/env bash
# The bash reference for scripts/bench/health.ts: the "Health Check Logic" of seed 004, doing the
# same work as `clmnt molt health check <name>`: PID file → ps → GET /health → status file
# (atomic, like clmnt) + one history line + one line on stdout. Written as a competent bash author
# would: builtins where bash has them (read, [[ ]], printf), a process only where it needs one
# (ps, curl, date, mv). It is given home and port; clmnt has to look the molt up by name.
#   usage: health-check.sh <molt-home> <port> [timeout-seconds, default 5]
set -u
MOLT_HOME=$1
MOLT_PORT=$2
TIMEOUT=${3:-5}
MOLT_NAME=${MOLT_HOME##*/}
STATE_DIR="$MOLT_HOME/.molt-state"
PID_FILE="$MOLT_HOME/.openclaw/gateway.pid"

PID=null HTTP=null TIME_MS=null REASON=null
if [ -f "$PID_FILE" ]; then
  read -r PID_TEXT <"$PID_FILE"
  # clmnt also checks that the PID is an openclaw process; asking ps for its args costs nothing more
  if [[ $PID_TEXT =~ ^[0-9]+$ ]] && CMD=$(ps -p "$PID_TEXT" -o args= 2>/dev/null) && [[ $CMD == *openclaw* ]]; then
    PID=$PID_TEXT
    OUT=$(curl -s -o /dev/null -m "$TIMEOUT" -w '%{http_code} %{time_total}' "http://127.0.0.1:$MOLT_PORT/health" 2>/dev/null)
    CODE=${OUT%% *}
    if [ "$CODE" = "200" ]; then
      STATUS=healthy HTTP=200
      US=${OUT##* } US=$((10#${US/./})) # curl prints seconds with 6 decimals: drop the dot → µs
      TIME_MS=$((US / 1000)).$((US % 1000 / 100))
    else
      STATUS=unhealthy
      if [ "$CODE" = "000" ] || [ -z "$CODE" ]; then REASON="\"no answer within ${TIMEOUT} s\""; else HTTP=$CODE REASON="\"HTTP $CODE\""; fi
    fi
  else
    STATUS=dead REASON="\"PID ${PID_TEXT:-?} from gateway.pid is not running\""
  fi
else
  STATUS=stopped REASON='"no gateway.pid"'
fi

NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
[ -d "$STATE_DIR" ] || mkdir -p "$STATE_DIR"
RECORD=$(printf '{"timestamp":"%s","molt":"%s","status":"%s","pid":%s,"port":%s,"http_status":%s,"response_time_ms":%s,"reason":%s}' \
  "$NOW" "$MOLT_NAME" "$STATUS" "$PID" "$MOLT_PORT" "$HTTP" "$TIME_MS" "$REASON")
# readers must never see half a file: write beside it, then rename (clmnt also fsyncs; bash cannot)
TMP="$STATE_DIR/.health-status.json.$$"
printf '%s\n' "$RECORD" >"$TMP" && mv -f "$TMP" "$STATE_DIR/health-status.json"
printf '%s\n' "${RECORD/\"molt\":\"$MOLT_NAME\",/}" >>"$STATE_DIR/health-history.jsonl"

echo "$MOLT_NAME: $STATUS"
[ "$STATUS" = healthy ]
