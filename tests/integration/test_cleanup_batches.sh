#!/usr/bin/env bash
# The cleaner claims and ends rows a batch at a time; what the claim
# guarantees must hold all the same, under real daemons racing and dying:
#   1. two workers clean the same dead worker's rows at once (two
#      requests, one job each, taken by two peers): every row is cleaned
#      exactly once (one 'cleaned' entry per resource across both
#      requests, each volume's status written once);
#   2. the cleaning worker is SIGKILLed while it holds a batch it claimed:
#      the rows stay its own, marked claimed, and the job's next taker
#      finishes every one of them, none twice.
# Every volume's status change is counted by a trigger of the test's own.
. "$(dirname "$0")/lib.sh"

ROWS=${BATCH_ROWS_TOTAL:-20000}
DOWN=3
OPTS=(--service-down-time "$DOWN" --report-interval 1)
start_daemon ctl --control-only "${OPTS[@]}"
C=$(mnt ctl)
OPTS+=(--cluster c1@lvm)
start_worker n1 "${OPTS[@]}"
start_worker n2 "${OPTS[@]}"
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm'")
id_of() { sql "SELECT id FROM services WHERE host = '$1@lvm' AND deleted = 0"; }
name_of() { local host; host=$(sql "SELECT host FROM services WHERE id = $1"); echo "${host%%@*}"; }

# Every UPDATE of a volume's status, even to the status it has: a second
# clean of a creating volume (error again) shows as a second entry.
if [ "$ENGINE" = sqlite ]; then
	sql "CREATE TABLE test_status_writes (volume_id TEXT, old TEXT, new TEXT);
	CREATE TRIGGER test_status_writes AFTER UPDATE OF status ON volumes BEGIN
		INSERT INTO test_status_writes VALUES (NEW.id, OLD.status, NEW.status); END;"
else
	sql "CREATE TABLE test_status_writes (volume_id text, old text, new text)" \
		"CREATE FUNCTION test_status_write() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN INSERT INTO test_status_writes VALUES (NEW.id, OLD.status, NEW.status); RETURN NULL; END \$\$" \
		"CREATE TRIGGER test_status_writes AFTER UPDATE OF status ON volumes FOR EACH ROW
		EXECUTE FUNCTION test_status_write()"
fi

# seed_dead NAME: a dead member of c1 (heartbeat an hour ago) owning ROWS
# operations in flight, half creating volumes and half deleting ones;
# prints its id.
seed_dead() {
	local ago dead
	ago=$(db_time '-1 hour')
	dead=$(sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
		disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
		VALUES ('$ago', '$ago', 0, '$1@lvm', 'cinder-volume',
		'cinder-volume', 0, 0, 'nova', '$VER', '$VER', 'c1@lvm') RETURNING id")
	sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
		INSERT INTO volumes (id, status, attach_status, size, host, cluster_name, deleted, created_at)
		SELECT $(seq_uuid "$2"), CASE WHEN i % 2 = 0 THEN 'creating' ELSE 'deleting' END, 'detached',
		1, '$1@lvm', 'c1@lvm', 0, '$ago' FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
		INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
		SELECT 'Volume', $(seq_uuid "$2"), CASE WHEN i % 2 = 0 THEN 'creating' ELSE 'deleting' END,
		$dead, '$ago', '$ago' FROM n;" >/dev/null
	[ "$ENGINE" = sqlite ] || sql "ANALYZE volumes" "ANALYZE workers" >/dev/null
	echo "$dead"
}
rows_left() { sql "SELECT count(*) FROM workers WHERE resource_id LIKE '$1-%'"; }
state_of() { jq -r .state "$C/cleanup/history/$1/progress.json" 2>/dev/null; }
ended() { case $(state_of "$1") in done|failed|cancelled) return 0;; esac; return 1; }
# cleaned_once PREFIX WHAT REQUEST...: every volume of PREFIX is in its
# end state, its status written once, and across the requests one entry
# per resource says cleaned.
cleaned_once() {
	local prefix=$1 what=$2 r files=()
	shift 2
	for r; do files+=("$C/cleanup/history/$r/progress.json"); done
	check "$what: no row is left" "0" "$(rows_left "$prefix")"
	check "$what: every volume is in error or deleted" "$((ROWS / 2)) $((ROWS / 2))" \
		"$(sql "SELECT count(*) FROM volumes WHERE id LIKE '$prefix-%' AND status = 'error' AND deleted = 0") $(
		sql "SELECT count(*) FROM volumes WHERE id LIKE '$prefix-%' AND status = 'deleted' AND deleted = 1")"
	check "$what: each volume's status was written once" "$ROWS 1 1" \
		"$(sql "SELECT count(*) || ' ' || COALESCE(min(n), 0) || ' ' || COALESCE(max(n), 0) FROM
			(SELECT volume_id, count(*) AS n FROM test_status_writes WHERE volume_id LIKE '$prefix-%'
			GROUP BY volume_id) w")"
	check "$what: one entry per resource says cleaned, across the requests" "$ROWS 1 1" \
		"$(jq -s -r --arg p "$prefix-" '[.[].resources[] | select(.resource_id | startswith($p)) |
			select(.state == "cleaned") | .resource_id] | group_by(.) | map(length) |
			"\(length) \(min // 0) \(max // 0)"' "${files[@]}")"
}

###########################################################################
log "1. two workers clean the same dead worker's $ROWS rows at once"
###########################################################################
D1=$(seed_dead d1 d1d1d1d1)
# One request through each worker's mount: two jobs for c1, which the two
# members take, one each (a member runs one job at a time).
echo "service_id=$D1" >"$(mnt n1)/cleanup/request" &
W1=$!
echo "service_id=$D1" >"$(mnt n2)/cleanup/request" &
W2=$!
wait "$W1" && wait "$W2"
check "both requests are accepted" "2" "$(sql "SELECT count(*) FROM cleanup_requests")"
both_ended() { ended 00000001 && ended 00000002; }
if wait_until 120 both_ended; then ok "both requests end"; else
	not_ok "both requests end" "$(state_of 00000001) $(state_of 00000002)"; fi
check "both are done" "done done" "$(state_of 00000001) $(state_of 00000002)"
check "the two jobs were taken by two workers" "2" \
	"$(sql "SELECT count(DISTINCT taken_by) FROM cleanup_jobs WHERE request_id IN (1, 2)")"
check "they raced: rows claimed by the other first were skipped" "yes" \
	"$(jq -s -r '[.[].resources[] | select(.detail == "claimed by another worker first")] |
		if length > 0 then "yes" else "no" end' "$C"/cleanup/history/0000000[12]/progress.json)"
cleaned_once d1d1d1d1 "two at once" 00000001 00000002

###########################################################################
log "2. the cleaning worker is SIGKILLed while it holds a batch it claimed"
###########################################################################
D2=$(seed_dead d2 d2d2d2d2)
echo "service_id=$D2" >"$C/cleanup/request"
REQ=00000003
taker() { sql "SELECT COALESCE(max(taken_by), 0) FROM cleanup_jobs WHERE request_id = 3 AND state = 'running'"; }
# Under way: taken, and a few batches ended.
under_way() { [ "$(taker)" != 0 ] && [ "$(rows_left d2d2d2d2)" -lt $((ROWS - 300)) ]; }
wait_until 30 under_way
TAKER_ID=$(taker)
TAKER=$(name_of "$TAKER_ID")
held() { sql "SELECT count(*) FROM workers WHERE service_id = $TAKER_ID AND resource_id LIKE 'd2d2d2d2-%'"; }
# Stopped at a moment it holds claimed rows (between a batch's claim and
# its end; tried again, a little later, when it held none).
caught=no
for try in $(seq 1 200); do
	kill -STOP "${PIDS[$TAKER]}"
	if [ "$(held)" -gt 0 ]; then caught=yes; break; fi
	kill -CONT "${PIDS[$TAKER]}"
	sleep "0.0$((RANDOM % 10))"
done
HELD=$(held)
LEFT=$(rows_left d2d2d2d2)
kill -KILL "${PIDS[$TAKER]}"; wait "${PIDS[$TAKER]}" 2>/dev/null; unset "PIDS[$TAKER]"
log "killed $TAKER holding $HELD claimed rows, $LEFT of $ROWS rows left"
check "it was killed holding a batch it claimed, in the middle" "yes yes" \
	"$caught $([ "$LEFT" -gt "$HELD" ] && [ "$LEFT" -lt "$ROWS" ] && echo yes || echo "no: $LEFT left")"
check "its claimed rows are its own, marked claimed in the progress" "$HELD" \
	"$(sql "SELECT count(*) FROM cleanup_progress p JOIN workers w ON w.resource_type = p.resource_type
		AND w.resource_id = p.resource_id WHERE p.job_id = (SELECT id FROM cleanup_jobs WHERE request_id = 3)
		AND p.state = 'claimed' AND w.service_id = $TAKER_ID")"
if wait_until $((DOWN + 60)) ended "$REQ"; then ok "the request ends"; else not_ok "the request ends" "$(state_of "$REQ")"; fi
check "it is done, by the job's second taker" "done 2" \
	"$(state_of "$REQ") $(sql "SELECT attempts FROM cleanup_jobs WHERE request_id = 3")"
check "nothing is left with the killed worker" "0" "$(held)"
cleaned_once d2d2d2d2 "killed" "$REQ"
true
