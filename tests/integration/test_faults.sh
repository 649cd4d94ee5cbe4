#!/usr/bin/env bash
# Faults, injected: the worker cleaning 20,000 rows is SIGKILLed, or
# SIGSTOPped for longer than service_down_time; another process holds the
# database's write lock (PostgreSQL: every table locked against writes);
# a worker's services row is removed under it; the
# only worker that may take a job stops before taking it. After each, the
# invariants: every accepted request ends (done or failed), every row is
# cleaned exactly once, no live worker (one whose process was never
# stopped) is read as down in samples every 0.5 s, and the database passes
# its integrity check.
#
# This is the bounded form run by the test suite (FAULT_ROWS rows, one
# round of each fault); bench/faults runs it for many rounds.
. "$(dirname "$0")/lib.sh"

# Enough rows that the cleanup is still running when the fault lands: a
# database-only worker cleans 5,000 to 20,000 rows a second.
ROWS=${FAULT_ROWS:-20000}
DOWN=3
OPTS=(--service-down-time "$DOWN" --report-interval 1)
start_daemon ctl --control-only "${OPTS[@]}"
start_worker n1 --cluster c1@lvm "${OPTS[@]}"
start_worker n2 --cluster c1@lvm "${OPTS[@]}"
start_worker n3 --cluster c1@lvm "${OPTS[@]}"
start_worker u1 "${OPTS[@]}"
C=$(mnt ctl)
R=$C/cleanup/request
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm'")
id_of() { sql "SELECT id FROM services WHERE host = '$1@lvm' AND deleted = 0"; }
name_of() { local host; host=$(sql "SELECT host FROM services WHERE id = $1"); echo "${host%%@*}"; }

# The sampler: every 0.5 s, every worker named in $TEST_ROOT/live (never
# stopped) must read is_up true through the control mount; each false is
# a line in $TEST_ROOT/violations.
for w in n1 n2 n3 u1; do echo "$w $(id_of "$w")"; done >"$TEST_ROOT/live"
: >"$TEST_ROOT/violations"
(
	samples=0
	while [ -e "$TEST_ROOT/live" ]; do
		while read -r name id; do
			v=$(cat "$C/workers/$id/is_up" 2>/dev/null)
			# Checked again: a worker about to be stopped leaves the
			# list before the signal.
			if [ "$v" != true ] && grep -q "^$name " "$TEST_ROOT/live" 2>/dev/null; then
				echo "$(date +%T.%N) $name ($id) read '$v'" >>"$TEST_ROOT/violations"
			fi
		done < <(cat "$TEST_ROOT/live" 2>/dev/null)
		samples=$((samples + 1))
		echo "$samples" >"$TEST_ROOT/samples"
		sleep 0.5
	done
) &
SAMPLER=$!
not_live() { sed -i "/^$1 /d" "$TEST_ROOT/live"; }

# seed_dead NAME CLUSTER N: a dead worker (heartbeat an hour ago) owning N
# operations in flight, creating volumes; prints its id.
seed_dead() {
	local ago
	ago=$(db_time '-1 hour')
	sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
		disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
		VALUES ('$ago', '$ago', 0, '$1@lvm', 'cinder-volume',
		'cinder-volume', 0, 0, 'nova', '$VER', '$VER', $2) RETURNING id"
}
seed_rows() {
	local ago
	ago=$(db_time '-1 hour')
	sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
		INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at)
		SELECT $(seq_uuid "$2"), 'creating', 'detached', 1, NULL, 0,
		'$ago' FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $3)
		INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
		SELECT 'Volume', $(seq_uuid "$2"), 'creating', $1,
		'$ago', '$ago' FROM n;"
}
rows_left() { sql "SELECT count(*) FROM workers WHERE resource_id LIKE '$1-%'"; }
state_of() { jq -r .state "$C/cleanup/history/$1/progress.json" 2>/dev/null; }
ended() { case $(state_of "$1") in done|failed|cancelled) return 0;; esac; return 1; }
last_request() { ls "$C/cleanup/history" | tail -1; }
taker_of() { sql "SELECT COALESCE(taken_by, 0) FROM cleanup_jobs WHERE request_id = $((10#$1)) AND state = 'running'"; }
# exactly_once PREFIX REQUEST: every row of PREFIX cleaned, each exactly once
exactly_once() {
	local n=$ROWS
	check "$3: no row is left" "0" "$(rows_left "$1")"
	check "$3: every volume is in error" "$n" \
		"$(sql "SELECT count(*) FROM volumes WHERE id LIKE '$1-%' AND status = 'error'")"
	check "$3: every resource has one entry, cleaned" "$n $n" \
		"$(jq -r --arg p "$1-" '[.resources[] | select(.resource_id | startswith($p))] |
			"\(length) \([.[] | select(.state == "cleaned")] | length)"' \
			"$C/cleanup/history/$2/progress.json")"
}

# stop_outside_tx NAME: SIGSTOP the worker at a moment it holds no write
# transaction (tried again when it did: that case is the lock test's).
stop_outside_tx() {
	local pid=${PIDS[$1]} i
	# A batch's transaction is open most of the time on a busy machine:
	# up to 200 tries (4 s and more), not 40 (failed once at load 10).
	for i in $(seq 1 200); do
		kill -STOP "$pid"
		if ! db_in_tx "$pid"; then
			return 0
		fi
		kill -CONT "$pid"
		sleep 0.02
	done
	return 1
}

###########################################################################
log "1. the cleaning worker is SIGKILLed in the middle of $ROWS rows"
###########################################################################
# cleanup_midway DEAD PREFIX SPEC: a dead member of c1 with ROWS rows, a
# cleanup of it written through the control mount, and a wait until its
# taker is at a random point (after 1 to ROWS/2 rows). Sets REQ and TAKER.
cleanup_midway() {
	local at dead
	dead=$(seed_dead "$1" "'c1@lvm'")
	seed_rows "$dead" "$2" "$ROWS"
	check_cmd "a cleanup ($3) is accepted" sh -c "echo '$3' > '$R'"
	REQ=$(last_request)
	at=$((ROWS - 1 - RANDOM % (ROWS / 2)))
	midway() { [ "$(taker_of "$REQ")" != 0 ] && [ "$(rows_left "$2")" -le "$at" ]; }
	wait_until 10 midway "$@"
	TAKER=$(name_of "$(taker_of "$REQ")")
}

cleanup_midway d1 d1d1d1d1 'cluster_name=c1@lvm'
REQ1=$REQ
not_live "$TAKER"
kill -STOP "${PIDS[$TAKER]}"
left=$(rows_left d1d1d1d1)
kill -KILL "${PIDS[$TAKER]}"; wait "${PIDS[$TAKER]}" 2>/dev/null; unset "PIDS[$TAKER]"
log "killed $TAKER with $left of $ROWS rows left"
check "it was killed in the middle" "yes" "$([ "$left" -gt 0 ] && [ "$left" -lt "$ROWS" ] && echo yes || echo "no: $left left")"
if wait_until $((DOWN + 15)) ended "$REQ1"; then ok "the request ends"; else not_ok "the request ends" "$(state_of "$REQ1")"; fi
check "it is done" "done" "$(state_of "$REQ1")"
check "its job was taken twice: by $TAKER, then by a live member" "2" \
	"$(sql "SELECT attempts FROM cleanup_jobs WHERE request_id = $((10#$REQ1))")"
exactly_once d1d1d1d1 "$REQ1" "kill"
check "wait returns the final progress at once" "done" "$(timeout 5 jq -r .state "$C/cleanup/history/$REQ1/wait")"
start_worker "$TAKER" --cluster c1@lvm "${OPTS[@]}"
echo "$TAKER $(id_of "$TAKER")" >>"$TEST_ROOT/live"

###########################################################################
log "2. the cleaning worker is SIGSTOPped for longer than service_down_time"
###########################################################################
cleanup_midway d2 d2d2d2d2 'host=d2@lvm'
REQ2=$REQ
not_live "$TAKER"
if stop_outside_tx "$TAKER"; then ok "$TAKER stopped outside a transaction"; else not_ok "$TAKER stopped outside a transaction"; fi
sleep $((DOWN + 1))
check_cmd "a cleanup written while it is stopped is accepted at once" \
	timeout 5 sh -c "echo 'host=nobody@lvm' > '$R'"
if wait_until $((DOWN + 10)) ended "$REQ2"; then ok "the request ends while $TAKER is stopped"; else
	not_ok "the request ends while $TAKER is stopped" "$(state_of "$REQ2")"; fi
kill -CONT "${PIDS[$TAKER]}"
back_up() { [ "$(cat "$C/workers/$(id_of "$TAKER")/is_up")" = true ]; }
if wait_until 5 back_up; then ok "$TAKER is up again after SIGCONT"; else not_ok "$TAKER is up again after SIGCONT"; fi
sleep 1
check "it is done" "done" "$(state_of "$REQ2")"
exactly_once d2d2d2d2 "$REQ2" "stop"
check "the stopped worker abandoned what it had lost, and said so" "yes" \
	"$(grep -qE 'abandoned|went to another worker' "$TEST_ROOT/$TAKER.log" && echo yes || echo no)"
echo "$TAKER $(id_of "$TAKER")" >>"$TEST_ROOT/live"

###########################################################################
LOCK_SECONDS=${FAULT_LOCK_SECONDS:-$((DOWN * 2 + 2))}
log "3. another process holds the write lock for $LOCK_SECONDS s"
###########################################################################
if [ "$ENGINE" = sqlite ]; then
	python3 - "$DB" "$LOCK_SECONDS" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
PY
else
	# SQLite's EXCLUSIVE under WAL: every writer waits, readers go on.
	# PostgreSQL's: each table locked IN EXCLUSIVE MODE (only plain
	# SELECTs pass), by a psql session in an open transaction.
	TABLES=$(sql "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables WHERE schemaname = current_schema()")
	log "locked: $TABLES"
	pg_sql "$DB" -c "BEGIN" -c "LOCK TABLE $TABLES IN EXCLUSIVE MODE" -c "SELECT pg_sleep($LOCK_SECONDS)" \
		-c "ROLLBACK" >/dev/null &
fi
LOCKER=$!
wait "$LOCKER"
check "the lock was held and let go" "0" "$?"
sleep 2
check "workers beat again after the lock" "yes" \
	"$(grep -q 'landed again' "$TEST_ROOT/n1.log" "$TEST_ROOT/n2.log" && echo yes || echo no)"

###########################################################################
log "4. a worker's services row is removed under it"
###########################################################################
N2=$(id_of n2)
not_live n2 # its directory is gone until the row is back
sql "DELETE FROM services WHERE id = $N2"
revived() { [ "$(sql "SELECT count(*) FROM services WHERE id = $N2 AND deleted = 0 AND host = 'n2@lvm'")" = 1 ]; }
if wait_until 5 revived; then ok "it comes back with the same id"; else not_ok "it comes back with the same id"; fi
check "and only one row has its host" "1" "$(sql "SELECT count(*) FROM services WHERE host = 'n2@lvm'")"
echo "n2 $N2" >>"$TEST_ROOT/live"

###########################################################################
log "5. the only worker that may take a job stops before taking it"
###########################################################################
U1=$(id_of u1)
V_U=e0e0e0e0-0000-4000-8000-000000000001
HOUR_AGO=$(db_time '-1 hour')
sql "INSERT INTO volumes (id, status, attach_status, size, deleted, created_at)
	VALUES ('$V_U', 'creating', 'detached', 1, 0, '$HOUR_AGO');
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
	VALUES ('Volume', '$V_U', 'creating', $U1, '$HOUR_AGO', '$HOUR_AGO');"
not_live u1
if stop_outside_tx u1; then ok "u1 stopped outside a transaction"; else not_ok "u1 stopped outside a transaction"; fi
check_cmd "a cleanup of u1, up a moment ago, is accepted" sh -c "echo 'host=u1@lvm is_up=true' > '$R'"
REQ5=$(last_request)
check "u1 is being cleaned (by itself)" "[$U1]" "$(jq -c '[.cleaning[].id]' "$C/cleanup/result")"
if wait_until $((DOWN + 10)) ended "$REQ5"; then ok "the request ends although nobody can take its job"; else
	not_ok "the request ends although nobody can take its job" "$(state_of "$REQ5")"; fi
check "it failed" "failed" "$(state_of "$REQ5")"
check "saying why" "yes" "$(jq -r '.jobs[0].error' "$C/cleanup/history/$REQ5/progress.json" |
	grep -q "nobody can take it: worker $U1" && echo yes || echo no)"
check "its resource says the job failed" "failed" \
	"$(jq -r --arg id "$V_U" '.resources[] | select(.resource_id == $id) | .state' "$C/cleanup/history/$REQ5/progress.json")"
kill -CONT "${PIDS[u1]}"

###########################################################################
log "6. the only live worker that could clean cannot (its driver did not start)"
###########################################################################
back_up_u1() { [ "$(cat "$C/workers/$U1/is_up")" = true ]; }
wait_until 5 back_up_u1
echo "u1 $U1" >>"$TEST_ROOT/live"
sql "UPDATE worker_state SET can_clean = 0, reason = 'volume group vg9 not found' WHERE service_id = $U1"
jobs_before=$(sql "SELECT count(*) FROM cleanup_jobs")
check_cmd "a cleanup of u1 is accepted" sh -c "echo 'host=u1@lvm is_up=true' > '$R'"
check "u1 is unavailable, not cleaning: it cannot clean itself" \
	"{\"cleaning\":[],\"unavailable\":[$U1]}" \
	"$(jq -c '{cleaning: [.cleaning[].id], unavailable: [.unavailable[].id]}' "$C/cleanup/result")"
check "no job is queued that nobody would take" "$jobs_before" "$(sql "SELECT count(*) FROM cleanup_jobs")"
sql "UPDATE worker_state SET can_clean = 1, reason = NULL WHERE service_id = $U1"

###########################################################################
log "7. an admin cancels a request"
###########################################################################
D7=$(seed_dead d7 "'c1@lvm'")
seed_rows "$D7" d7d7d7d7 20
for w in n1 n2 n3; do not_live "$w"; stop_outside_tx "$w" || not_ok "$w stopped outside a transaction"; done
check_cmd "a cleanup of d7 is accepted (c1's members are stopped, not yet down)" \
	sh -c "echo 'host=d7@lvm' > '$R'"
REQ7=$(last_request)
H7=$C/cleanup/history/$REQ7
check "cancel reads false before" "false" "$(cat "$H7/cancel")"
check_fails "cancel takes only true" "Invalid argument" bash -c "echo false > '$H7/cancel'"
check "and says so in cleanup/error" "yes" "$(grep -q 'write true to cancel' "$C/cleanup/error" && echo yes || cat "$C/cleanup/error")"
check_cmd "echo true > cancel cancels it" bash -c "echo true > '$H7/cancel'"
check "cancel reads true after" "true" "$(cat "$H7/cancel")"
check "the request ends cancelled" "cancelled" "$(state_of "$REQ7")"
check "its resources say cancelled" "20" "$(jq .counts.cancelled "$H7/progress.json")"
check "wait returns at once" "cancelled" "$(timeout 5 jq -r .state "$H7/wait")"
for w in n1 n2 n3; do kill -CONT "${PIDS[$w]}"; done
sleep 2
check "nothing of d7 was cleaned" "20" "$(rows_left d7d7d7d7)"
check_fails "a cancel of an ended request is refused" "Device or resource busy" \
	bash -c "echo true > '$C/cleanup/history/$REQ1/cancel'"
for w in n1 n2 n3; do echo "$w $(id_of "$w")" >>"$TEST_ROOT/live"; done

###########################################################################
log "8. right after wait returns, what it changed reads fresh"
###########################################################################
D8=$(seed_dead d8 "'c1@lvm'")
seed_rows "$D8" d8d8d8d8 1
S8=$C/stuck/volume/d8d8d8d8-0000-4000-8000-000000000001
check "its volume is stuck" "yes" "$(test -e "$S8" && echo yes || echo no)"
for w in n1 n2 n3; do not_live "$w"; stop_outside_tx "$w" || not_ok "$w stopped outside a transaction"; done
check_cmd "a cleanup of d8 is accepted" sh -c "echo 'host=d8@lvm' > '$R'"
REQ8=$(last_request)
# Keep the kernel's cached entry fresh (0.5 s) right up to the cleanup.
( while :; do stat "$S8" >/dev/null 2>&1; sleep 0.02; done ) &
STATTER=$!
( cat "$C/cleanup/history/$REQ8/wait" >/dev/null; test -e "$S8" && echo stale || echo fresh ) \
	>"$TEST_ROOT/fresh" &
READER=$!
sleep 0.3
for w in n1 n2 n3; do kill -CONT "${PIDS[$w]}"; done
wait "$READER"
kill "$STATTER"; wait "$STATTER" 2>/dev/null
check "test -e stuck/volume/<id> says no the moment wait returns" "fresh" "$(cat "$TEST_ROOT/fresh")"
for w in n1 n2 n3; do echo "$w $(id_of "$w")" >>"$TEST_ROOT/live"; done

###########################################################################
log "9. 200 writers at once, through four mounts"
###########################################################################
before=$(sql "SELECT count(*) FROM cleanup_requests")
: >"$TEST_ROOT/writers"
WRITERS=()
for i in $(seq 1 200); do
	m=$(mnt "$(case $((i % 4)) in 0) echo ctl;; 1) echo n1;; 2) echo n2;; 3) echo n3;; esac)")
	( bash -c "echo 'host=nobody$i@lvm' > '$m/cleanup/request'" 2>>"$TEST_ROOT/writers" ||
		echo "writer $i failed" >>"$TEST_ROOT/writers" ) &
	WRITERS+=($!)
done
wait "${WRITERS[@]}"
check "every writer's request was accepted" "" "$(cat "$TEST_ROOT/writers")"
check "and recorded, each once" "$((before + 200))" "$(sql "SELECT count(*) FROM cleanup_requests")"

###########################################################################
log "10. the daemon that accepted a request is SIGKILLed at once"
###########################################################################
D10=$(seed_dead d10 "'c1@lvm'")
seed_rows "$D10" d10d10d1 50
start_daemon req --control-only "${OPTS[@]}"
check_cmd "a cleanup is accepted through a daemon of its own" \
	sh -c "echo 'host=d10@lvm' > '$(mnt req)/cleanup/request'"
kill -KILL "${PIDS[req]}"; wait "${PIDS[req]}" 2>/dev/null; unset 'PIDS[req]'
REQ10=$(last_request)
if wait_until 15 ended "$REQ10"; then ok "the request still ends"; else not_ok "the request still ends" "$(state_of "$REQ10")"; fi
check "done, every row cleaned" "done 0" "$(state_of "$REQ10") $(rows_left d10d10d1)"

###########################################################################
log "invariants"
###########################################################################
rm -f "$TEST_ROOT/live"
wait "$SAMPLER"
log "samples taken: $(cat "$TEST_ROOT/samples")"
check "no live worker was read as down" "" "$(cat "$TEST_ROOT/violations")"
check "no job is left queued or running" "0" \
	"$(sql "SELECT count(*) FROM cleanup_jobs WHERE state IN ('queued', 'running')")"
unended=""
for n in $(ls "$C/cleanup/history"); do ended "$n" || unended="$unended $n:$(state_of "$n")"; done
check "every accepted request ended" "" "$unended"
check "the database passes its integrity check" "ok" "$(db_integrity)"
# The round's figures, for bench/faults.
log "figures: rows=$ROWS kills=2 stops=$((1 + 3 + 3 + 1)) requests=$(sql 'SELECT count(*) FROM cleanup_requests')" \
	"samples=$(cat "$TEST_ROOT/samples") violations=$(grep -c . "$TEST_ROOT/violations")"
true
