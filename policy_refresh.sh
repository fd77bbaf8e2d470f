#!/usr/bin/env bash
# Refreshes the trading universe for cron or a systemd timer: `universe generate`, then
# `universe proof`, never two at once, every line timestamped on stderr.
#
#   policy_refresh.sh [GENERATE-FLAGS…]
#
# Configure both commands with UNIVERSE_* variables (UNIVERSE_STORE, UNIVERSE_TOP, …):
# flags given here reach `generate` only (proof judges a policy by the bounds its audit
# entry records, so `--top 11` here still proves). UNIVERSE_STORE is required: without it
# the script refuses to run (exit 2) rather than publish to a default folder the trading
# services never read. Also read:
#   UNIVERSE_BIN        the binary (default: `universe` on PATH)
#   UNIVERSE_LOCK       the lock file (default: $XDG_RUNTIME_DIR, else /tmp, /universe-refresh.lock)
#   UNIVERSE_LOCK_WAIT  seconds to wait for a running refresh before giving up (default 0)
#
# After a publish it logs the line the Python deployment logged, which operators grep:
#   POLICY_AUDIT: version=… hash=… universe_count=… valid_until=…
#
# Exit: generate's code when it fails (the previous policy then stands untouched),
# else proof's; 1 when another refresh holds the lock; 2 without UNIVERSE_STORE. There
# is no fallback list.
set -uo pipefail

log() { printf '%s policy_refresh[%d] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >&2; }

case "${UNIVERSE_STORE:-}" in
  "")
    log "UNIVERSE_STORE is not set: name the store the trading services read (redis://… or file:DIR); nothing was run"
    exit 2 ;;
  *CHANGE-ME*)
    log "UNIVERSE_STORE still holds the example's CHANGE-ME password (/etc/universe/universe.env); nothing was run"
    exit 2 ;;
esac

bin=${UNIVERSE_BIN:-universe}
lock=${UNIVERSE_LOCK:-${XDG_RUNTIME_DIR:-/tmp}/universe-refresh.lock}
wait_s=${UNIVERSE_LOCK_WAIT:-0}

# run NAME COMMAND…: every output line timestamped and tagged; returns COMMAND's code
run() {
  local name=$1
  shift
  "$@" 2>&1 | while IFS= read -r line; do log "$name: $line"; done
  return "${PIPESTATUS[0]}"
}

exec 9>>"$lock" || { log "cannot open the lock file $lock"; exit 1; }
if ! flock -w "$wait_s" 9; then
  log "another refresh holds $lock; not starting"
  exit 1
fi

log "start: $bin generate $*"
run generate "$bin" generate "$@"
generated=$?
if [ "$generated" -ne 0 ]; then
  log "generate failed with exit $generated; nothing was published"
elif audit=$("$bin" show --audit-line 2>&1); then
  log "$audit"
else
  log "show --audit-line failed: $audit"
fi
run proof "$bin" proof
proved=$?
if [ "$generated" -ne 0 ]; then
  log "done: exit $generated (generate)"
  exit "$generated"
fi
log "done: exit $proved (proof)"
exit "$proved"
