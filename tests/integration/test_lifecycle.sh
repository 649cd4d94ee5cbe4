#!/usr/bin/env bash
# The daemon's life: start, refusals with exit codes and messages, SIGTERM,
# restart, and recovery from a stale mount left by a crash.
. "$(dirname "$0")/lib.sh"

M=$(mnt w)
mkdir -p "$M"

# Bad options and config: a message naming the option and value, exit 2.
out=$("$CINDERFS" --bogus "$M" 2>&1); rc=$?
check "an unknown option exits 2" "2" "$rc"
check "an unknown option is named" "cinderfs: unknown option '--bogus'; see cinderfs --help" "$out"
out=$("$CINDERFS" --db "$DB" --service-down-time soon "$M" 2>&1); rc=$?
check "a bad value exits 2" "2" "$rc"
check "a bad value is named with its option" \
	"cinderfs: option --service-down-time: 'soon' is not a whole number of seconds from 1 to 31536000" "$out"
printf '[DEFAULT]\nhost = cfg@lvm\nreport_intervall = 5\n' >"$TEST_ROOT/bad.conf"
out=$("$CINDERFS" --config "$TEST_ROOT/bad.conf" "$M" 2>&1); rc=$?
check "a bad config key exits 2" "2" "$rc"
check "a bad config key is named with file and line" \
	"cinderfs: config $TEST_ROOT/bad.conf line 3: unknown key 'report_intervall' in [DEFAULT]" "$out"
check "--version prints the version" "0" "$("$CINDERFS" --version >/dev/null; echo $?)"
check_cmd "--help documents --control-only" sh -c "'$CINDERFS' --help | grep -q -- --control-only"
# SQLite: a file in a directory that does not exist; PostgreSQL: a
# database that does not exist on the test's server.
if [ "$ENGINE" = sqlite ]; then
	BAD_DB=$TEST_ROOT/missing-dir/state.db
	WHY="cannot open database $BAD_DB"
else
	BAD_DB=$(pg_url "$DB" "$(pg_url_part user "$DB")" "$(pg_url_part db "$DB")_missing")
	WHY="cannot connect to database $BAD_DB: connection to server at \"127.0.0.1\", port $(pg_url_part server "$DB" | sed 's/.*://') failed: FATAL:  database \"$(pg_url_part db "$BAD_DB")\" does not exist"
fi
out=$("$CINDERFS" -f --db "$BAD_DB" "$M" 2>&1); rc=$?
check "an unopenable database exits 1" "1" "$rc"
check "and says which database and why" "yes" \
	"$(grep -qF "$WHY" <<<"$out" && echo yes || echo "$out")"
out=$("$CINDERFS" -f --db "$DB" "$TEST_ROOT/no-such-mountpoint" 2>&1); rc=$?
check "a missing mountpoint exits 1" "1" "$rc"
check_cmd "and says so" sh -c "echo '$out' | grep -q 'mountpoint $TEST_ROOT/no-such-mountpoint: No such file or directory'"

# A config file gives the worker its identity; flags override it.
cat >"$TEST_ROOT/good.conf" <<CONF
[DEFAULT]
host = node1@lvm
cluster = c1@lvm
service_down_time = 5
report_interval = 1
[database]
connection = $(db_connection)
CONF
start_daemon w --config "$TEST_ROOT/good.conf"
check "the config names the worker" "node1@lvm c1@lvm" "$(cat "$M/workers/1/host" "$M/workers/1/cluster_name" | xargs)"
check "registration creates the cluster row" "1" \
	"$(sql "SELECT count(*) FROM clusters WHERE name = 'c1@lvm' AND \"binary\" = 'cinder-volume'")"
beats() { [ "$(sql "SELECT report_count FROM services WHERE id = 1")" -ge "$1" ]; }
before=$(sql "SELECT report_count FROM services WHERE id = 1")
if wait_until 5 beats $((before + 2)); then
	ok "the heartbeat bumps report_count every report_interval"
else
	not_ok "the heartbeat bumps report_count" "before $before, now $(sql 'SELECT report_count FROM services')"
fi

# A second daemon on a live mount is refused.
out=$("$CINDERFS" -f --db "$DB" --host other@lvm "$M" 2>&1); rc=$?
check "a mountpoint served by a live cinderfs is refused (exit 1)" "1" "$rc"
check_cmd "with a message saying so" sh -c "echo '$out' | grep -q 'already served by a running cinderfs'"

# SIGTERM: unmount, exit 0, the row stays (a stopped worker is down, not gone).
stop_daemon w TERM
check "SIGTERM exits 0" "0" "$STOP_RC"
check "SIGTERM unmounts" "no" "$(mountpoint -q "$M" && echo yes || echo no)"
check "the worker's row stays after SIGTERM" "1 0" "$(sql 'SELECT count(*), max(deleted) FROM services' | tr '|' ' ')"

# A retired worker's row: rmdir workers/<id>, refused while it is up.
start_daemon admin --control-only --service-down-time 5 --report-interval 1
A=$(mnt admin)
sql "INSERT INTO services (id, host, \"binary\", created_at, updated_at, rpc_current_version)
	VALUES (9, 'old@lvm', 'cinder-volume', '$(db_time)', '$(db_time)', '0.9')"
check_fails "rmdir of a worker that is up is EBUSY" "Device or resource busy" rmdir "$A/workers/9"
check_fails "cleanup is blocked by the old worker as an upgrade" "Device or resource busy" \
	bash -c "echo > '$A/cleanup/request'"
sql "UPDATE services SET updated_at = '2026-01-01 00:00:00' WHERE id = 9"
check_cmd "rmdir of a worker that is down removes its row" rmdir "$A/workers/9"
check "the row is soft-deleted, as Cinder does" "1" "$(sql 'SELECT deleted FROM services WHERE id = 9')"
gone9() { ! ls "$A/workers" | grep -qx 9; }
if wait_until 2 gone9; then ok "workers/9 is gone"; else not_ok "workers/9 is gone"; fi
check_cmd "and cleanups are no longer blocked" bash -c "echo > '$A/cleanup/request'"
check_fails "rmdir of a worker that does not exist is ENOENT" "No such file or directory" rmdir "$A/workers/99"
stop_daemon admin TERM

# Restart: the same host and binary take their row back.
start_daemon w --config "$TEST_ROOT/good.conf"
check "a restarted worker re-uses its row" "1 1" "$(sql 'SELECT count(*), max(id) FROM services WHERE deleted = 0' | tr '|' ' ')"
stop_daemon w INT
check "SIGINT exits 0 too" "0" "$STOP_RC"

# A crash that also takes the auto_unmount helper leaves a dead mount
# ("Transport endpoint is not connected"); the next start detaches it.
start_daemon w --config "$TEST_ROOT/good.conf"
helper=$(pgrep -P "${PIDS[w]}" -x fusermount3)
kill -KILL "$helper" "${PIDS[w]}"
wait "${PIDS[w]}" 2>/dev/null
unset 'PIDS[w]'
check_fails "a crash without its helper leaves a dead mount" "Transport endpoint is not connected" stat "$M"
start_daemon w --config "$TEST_ROOT/good.conf"
check "the next start detaches the stale mount and serves" "node1@lvm" "$(cat "$M/workers/1/host")"
check_cmd "and logs what it did" grep -q "holds a stale mount" "$TEST_ROOT/w.log"
check "only one mount is left at the mountpoint" "1" "$(grep -c " $M fuse.cinderfs " /proc/mounts)"
true
