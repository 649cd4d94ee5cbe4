#!/usr/bin/env bash
# metrics and status at the mount's root: the metrics file parses as the
# Prometheus text format (the official client's parser, and the format's
# rules it lets through: prom_check.py), and every figure is the
# database's (workers up and down by cluster, stuck resources by type and
# status, requests by state, resources cleaned and failed, storage
# operations and their durations' histogram, each volume group); its
# counters never go down when history is pruned (cleanup requests and
# volume operations); a label value with a
# quote, a backslash, a newline or bytes that are not UTF-8 comes back
# from the parser as it should. status says the same on one screen. Both
# read-only, with a stat size that is what cat reads.
. "$(dirname "$0")/lib.sh"

# The parser: Debian's python3-prometheus-client (tools/install-deps), in
# whichever python3 has it (Debian's own, when another comes first in PATH).
PY=
for py in python3 /usr/bin/python3; do
	if "$py" -c 'import prometheus_client.parser' 2>/dev/null; then PY=$py; break; fi
done
if [ -z "$PY" ]; then
	echo "FAIL: no python3 with prometheus_client (python3-prometheus-client): run tools/install-deps"
	exit 1
fi
CHECK="$(dirname "$0")/prom_check.py"

start_daemon ctl --control-only --service-down-time 60
M=$(mnt ctl)

# Workers: c1 has one up and two down; c2 one up; one unclustered down;
# a cluster whose name needs escaping (a quote, a backslash, a newline,
# and a byte that is not UTF-8) one down.
NOW=$(db_time) HOUR_AGO=$(db_time '-1 hour') TWO_HOURS_AGO=$(db_time '-2 hours')
if [ "$ENGINE" = sqlite ]; then NL='char(10)' BAD="CAST(x'ff' AS TEXT)"; else NL='chr(10)' BAD="'?'"; fi
service() { # HOST CLUSTER_SQL UPDATED_AT
	sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
		disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
		VALUES ('$3', '$3', 0, '$1', 'cinder-volume', 'cinder-volume', 0, 0, 'nova', '1.0', '1.0', $2)
		RETURNING id"
}
LIVE1=$(service a1@lvm "'c1@lvm'" "$NOW")
DEAD1=$(service a2@lvm "'c1@lvm'" "$HOUR_AGO")
DEAD1B=$(service a3@lvm "'c1@lvm'" "$HOUR_AGO")
LIVE2=$(service b1@lvm "'c2@lvm'" "$NOW")
DEAD2=$(service u1@lvm NULL "$TWO_HOURS_AGO")
WEIRD=$(service q1@lvm "'we\"ird\\x' || $NL || 'y' || $BAD" "$HOUR_AGO")

# Operations in flight: stuck ones (owners down) and others that are not.
rows() { # N TYPE STATUS OWNER AT PREFIX
	sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1)
		INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
		SELECT '$2', $(seq_uuid "$6"), '$3', $4, '$5', '$5' FROM n"
}
rows 3 Volume creating "$DEAD1" "$HOUR_AGO" aaaa0001
rows 1 Volume deleting "$DEAD2" "$TWO_HOURS_AGO" aaaa0002
rows 2 Snapshot creating "$DEAD1B" "$(db_time '-30 minutes')" aaaa0003
rows 1 Volume creating "$LIVE1" "$NOW" aaaa0004      # its owner is up: not stuck
rows 1 Volume creating NULL "$HOUR_AGO" aaaa0005     # nobody's: not stuck

# Five requests, one in each state, with their jobs and what became of
# their resources (the triggers keep each one's counts).
request() { # N CANCELLED_AT
	sql "INSERT INTO cleanup_requests (id, created_at, spec, filter, requester_uid, requester_pid,
		cancelled_at) VALUES ($1, '$NOW', CAST('host=n$1@lvm' AS $( [ "$ENGINE" = sqlite ] && echo BLOB || echo bytea)),
		'{}', 0, 1, $2)"
}
job() { # REQUEST STATE
	sql "INSERT INTO cleanup_jobs (id, request_id, service_id, until, state) VALUES ($1, $1, $DEAD1, '$NOW', '$2')"
}
progress() { # REQUEST N STATE PREFIX
	sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, updated_at)
		SELECT $1, $1, 'Volume', $(seq_uuid "$4"), '$3', '$NOW' FROM n"
}
request 1 NULL; job 1 queued; progress 1 2 queued bbbb0001
request 2 NULL; job 2 running; progress 2 1 claimed bbbb0002
request 3 NULL; job 3 done; progress 3 4 cleaned bbbb0003; progress 3 1 skipped bbbb0004
request 4 NULL; job 4 failed; progress 4 2 failed bbbb0005; progress 4 1 cleaned bbbb0006
request 5 "'$NOW'"; job 5 cancelled; progress 5 3 cancelled bbbb0007

# Storage operations: durations 0.2 s and 3 s (create, done), 40 s
# (create, failed), 0.05 s (delete, done); one create queued, one
# delete running.
op() { # KIND STATE CREATED FINISHED
	sql "INSERT INTO volume_operations (created_at, kind, resource_id, service_id, state, finished_at)
		VALUES ('$3', '$1', 'cccc0000-0000-4000-8000-000000000001', $LIVE1, '$2', $4)"
}
T0=$(date -u +%s)
at() { date -u -d "@$((T0 - 100)).$1" +'%Y-%m-%d %H:%M:%S.%6N'; }
later() { date -u -d "@$((T0 - 100 + $1)).$2" +'%Y-%m-%d %H:%M:%S.%6N'; }
op create_volume done "$(at 000000)" "'$(later 0 200000)'"
op create_volume done "$(at 000000)" "'$(later 3 000000)'"
op create_volume failed "$(at 000000)" "'$(later 40 000000)'"
op delete_volume done "$(at 000000)" "'$(later 0 050000)'"
op create_volume queued "$NOW" NULL
op delete_volume running "$NOW" NULL

# Capacity: c1's volume group measured by two workers (the freshest says
# 6 GiB free of 8), c2's by one (half of 1 TiB free).
capacity() { # WORKER VG SIZE FREE AT
	sql "INSERT INTO worker_capacity (service_id, volume_group, size_bytes, free_bytes, updated_at)
		VALUES ($1, '$2', $3, $4, '$5')"
}
GIB=1073741824
capacity "$LIVE1" vg-c1 $((8 * GIB)) $((6 * GIB)) "$(db_time '-10 seconds')"
capacity "$DEAD1" vg-c1 $((8 * GIB)) $((2 * GIB)) "$HOUR_AGO"
capacity "$LIVE2" vg-c2 $((1024 * GIB)) $((512 * GIB)) "$NOW"

# scrape: the metrics file read once, parsed and checked, as JSON lines;
# after a second, the longest a render is served again.
scrape() {
	sleep 1.1
	cat "$M/metrics" >"$TEST_ROOT/metrics.prom" || return 1
	"$PY" "$CHECK" "$TEST_ROOT/metrics.prom" >"$TEST_ROOT/metrics.jsonl"
}
# value NAME [LABEL VALUE]...: the sample's value ("" when none).
value() {
	local name=$1 filter='.name == $n'
	shift
	local args=(--arg n "$name") i=0
	while [ $# -gt 0 ]; do
		filter+=" and .labels.$1 == \$v$i"
		args+=(--arg "v$i" "$2")
		shift 2
		i=$((i + 1))
	done
	jq -r "${args[@]}" "select($filter) | .value" "$TEST_ROOT/metrics.jsonl"
}

check_cmd "metrics parses as the Prometheus text format, and keeps its rules" scrape
check "workers up and down by cluster are the database's" "1 2 1 0 0 1" \
	"$(value cinderfs_workers cluster c1@lvm state up) $(value cinderfs_workers cluster c1@lvm state down) \
$(value cinderfs_workers cluster c2@lvm state up) $(value cinderfs_workers cluster c2@lvm state down) \
$(value cinderfs_workers cluster '' state up) $(value cinderfs_workers cluster '' state down)"
WEIRD_NAME=$(sql "SELECT cluster_name FROM services WHERE id = $WEIRD" | head -c 9)
check "a cluster name with a quote, a backslash and a newline comes back whole" "1" \
	"$(jq -r 'select(.name == "cinderfs_workers" and .labels.state == "down" and
		(.labels.cluster | startswith("we\"ird\\x\ny"))) | .value' "$TEST_ROOT/metrics.jsonl")"
if [ "$ENGINE" = sqlite ]; then
	check "and its byte that is not UTF-8 as U+FFFD" "1" \
		"$(jq -r 'select(.name == "cinderfs_workers" and .labels.state == "down" and
			.labels.cluster == "we\"ird\\x\ny\ufffd") | .value' "$TEST_ROOT/metrics.jsonl")"
fi
log "(the name starts: $WEIRD_NAME)"

STUCK_VC=$(sql "SELECT count(*) FROM workers WHERE resource_type = 'Volume' AND status = 'creating' AND service_id = $DEAD1")
check "stuck volumes in creating: the database's 3 (not the live worker's, not nobody's)" "3 3" \
	"$STUCK_VC $(value cinderfs_stuck_resources type volume status creating)"
check "stuck volumes deleting and snapshots creating" "1 2" \
	"$(value cinderfs_stuck_resources type volume status deleting) $(value cinderfs_stuck_resources type snapshot status creating)"
check "no other stuck series" "3" "$(jq -r 'select(.name == "cinderfs_stuck_resources") | .name' "$TEST_ROOT/metrics.jsonl" | wc -l)"
AGE=$(value cinderfs_stuck_oldest_age_seconds type volume)
check "the oldest stuck volume is two hours old" "yes" \
	"$(awk -v a="$AGE" 'BEGIN { print (a >= 7199 && a < 7300) ? "yes" : "no: " a }')"
AGE=$(value cinderfs_stuck_oldest_age_seconds type snapshot)
check "the oldest stuck snapshot half an hour" "yes" \
	"$(awk -v a="$AGE" 'BEGIN { print (a >= 1799 && a < 1900) ? "yes" : "no: " a }')"

check "requests in history by state" "1 1 1 1 1" \
	"$(for s in queued running done failed cancelled; do value cinderfs_cleanup_history_requests state $s; done | xargs)"
check "requests accepted, and ended by outcome" "5 1 1 1" \
	"$(value cinderfs_cleanup_requests_total) $(for s in done failed cancelled; do value cinderfs_cleanup_requests_ended_total state $s; done | xargs)"
DB_CLEANED=$(sql "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned'")
check "resources cleaned (the database's), skipped, refused, failed, cancelled" "$DB_CLEANED 5 1 0 2 3" \
	"$DB_CLEANED $(for s in cleaned skipped refused failed cancelled; do value cinderfs_cleanup_resources_total state $s; done | xargs)"
check "resources pending: queued, claimed" "2 1" \
	"$(value cinderfs_cleanup_resources_pending state queued) $(value cinderfs_cleanup_resources_pending state claimed)"

check "operations in flight" "1 1" \
	"$(value cinderfs_storage_operations_in_flight kind create_volume state queued) $(value cinderfs_storage_operations_in_flight kind delete_volume state running)"
check "operations ended, by kind and state" "2 1 1" \
	"$(value cinderfs_storage_operations_total kind create_volume state done) $(value cinderfs_storage_operations_total kind create_volume state failed) $(value cinderfs_storage_operations_total kind delete_volume state done)"
check "create_volume done: its durations' buckets (0.2 s and 3 s)" "0 1 1 1 1 2 2 2 2 2 2" \
	"$(for le in 0.1 0.25 0.5 1 2.5 5 10 30 60 300 +Inf; do
		value cinderfs_storage_operation_duration_seconds_bucket kind create_volume state done le $le; done | xargs)"
check "its sum and count" "3.2 2" \
	"$(value cinderfs_storage_operation_duration_seconds_sum kind create_volume state done) $(value cinderfs_storage_operation_duration_seconds_count kind create_volume state done)"
check "create_volume failed: 40 s, past the 30 s bound" "0 1 40" \
	"$(value cinderfs_storage_operation_duration_seconds_bucket kind create_volume state failed le 30) \
$(value cinderfs_storage_operation_duration_seconds_bucket kind create_volume state failed le 60) \
$(value cinderfs_storage_operation_duration_seconds_sum kind create_volume state failed)"
check "no histogram for operations in flight" "" \
	"$(value cinderfs_storage_operation_duration_seconds_count kind create_volume state queued)"

check "each worker's volume group: size and free" "$((8 * GIB)) $((6 * GIB)) $((2 * GIB)) $((512 * GIB))" \
	"$(value cinderfs_volume_group_size_bytes worker "$LIVE1" volume_group vg-c1 host a1@lvm) \
$(value cinderfs_volume_group_free_bytes worker "$LIVE1") $(value cinderfs_volume_group_free_bytes worker "$DEAD1") \
$(value cinderfs_volume_group_free_bytes worker "$LIVE2")"
AGE=$(value cinderfs_volume_group_measured_age_seconds worker "$DEAD1")
check "and the measurement's age" "yes" "$(awk -v a="$AGE" 'BEGIN { print (a >= 3599 && a < 3700) ? "yes" : "no: " a }')"

# Sizes: stat (and ls -l) says what cat reads; the files are read-only.
same_size() {
	local s c l
	sleep 0.6
	s=$(stat -c %s "$M/$1") c=$(cat "$M/$1" | wc -c)
	l=$(ls -l "$M" | awk -v f="$1" '$NF == f { print $5 }')
	[ "$s" = "$c" ] && [ "$l" = "$c" ] && echo ok || echo "stat $s, ls -l $l, cat $c"
}
check "metrics: stat and ls -l give what cat reads" "ok" "$(same_size metrics)"
check "status: stat and ls -l give what cat reads" "ok" "$(same_size status)"
check_fails "metrics is read-only" "Permission denied" sh -c "echo x > '$M/metrics'"
check_fails "status is read-only" "Permission denied" sh -c "echo x > '$M/status'"
check "both are listed at the root" "metrics status" "$(ls "$M" | grep -xE 'metrics|status' | xargs)"

# status: the same figures on one screen.
cat "$M/status" >"$TEST_ROOT/status.txt"
while read -r line; do log "  $line"; done <"$TEST_ROOT/status.txt"
st_line() { grep -E "$1" "$TEST_ROOT/status.txt" | head -1 | xargs; }
check "status: its first line" "yes" "$(head -1 "$TEST_ROOT/status.txt" | grep -qE '^cinderfs status at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \(service_down_time 60 s\)$' && echo yes)"
check "status: workers in all" "workers: 2 up, 4 down" "$(st_line '^workers:')"
check "status: c1's line" "c1@lvm 1 2" "$(st_line '^  c1@lvm ')"
check "status: the unclustered" "(none) 0 1" "$(st_line '^  \(none\) ')"
check "status: stuck, and the oldest" "stuck: 6, the oldest 2h00m (volume deleting since ${TWO_HOURS_AGO:0:10}T${TWO_HOURS_AGO:11:8}Z)" \
	"$(st_line '^stuck:' | sed 's/oldest 2h0[01]m/oldest 2h00m/')"
check "status: stuck volumes creating" "volume creating 3 1h00m" "$(st_line '^  volume +creating' | sed 's/1h0[01]m$/1h00m/')"
check "status: requests by state" "cleanups: 5 kept: 1 queued, 1 running, 1 done, 1 failed, 1 cancelled" "$(st_line '^cleanups:')"
check "status: the newest request first, with its outcome" "5 cancelled 3 0 0 0 host=n5@lvm" \
	"$(st_line '^  5 ' | awk '{ print $1, $3, $4, $5, $6, $7, $8 }')"
check "status: request 4 failed, 1 cleaned, 2 failed" "4 failed 3 1 0 2 host=n4@lvm" \
	"$(st_line '^  4 ' | awk '{ print $1, $3, $4, $5, $6, $7, $8 }')"
check "status: vg-c1 from its freshest measurement" "vg-c1 8.0 GiB 6.0 GiB 25% 2" \
	"$(st_line '^  vg-c1 ' | awk '{ print $1, $2, $3, $4, $5, $6, $8 }')"
check "status: vg-c2" "vg-c2 1.0 TiB 512.0 GiB 50% 1" \
	"$(st_line '^  vg-c2 ' | awk '{ print $1, $2, $3, $4, $5, $6, $8 }')"

# Counters over pruning: the requests still going end, a worker that
# keeps one request prunes the other four at its start; the counters
# stay, the history gauge drops.
sql "UPDATE cleanup_jobs SET state = 'done' WHERE request_id IN (1, 2)"
# The volume operations' history too (cleanup_history_max_age, 90 days by
# default): the four that ended are moved back 200 days, durations as they
# were; a volume that is there has two failures and a success as old, of
# which its latest failure stays (its last_error).
old_at() { date -u -d "@$((T0 - 200 * 86400 - 100 + $1)).$2" +'%Y-%m-%d %H:%M:%S.%6N'; }
for f in "0 200000" "3 000000" "40 000000" "0 050000"; do
	# shellcheck disable=SC2086
	sql "UPDATE volume_operations SET created_at = '$(old_at 0 000000)', finished_at = '$(old_at $f)'
		WHERE finished_at = '$(later $f)'"
done
KEPT=dddd0000-0000-4000-8000-000000000002
sql "INSERT INTO volumes (id, created_at, updated_at, deleted, host, size, status, attach_status,
	display_name) VALUES ('$KEPT', '$NOW', '$NOW', 0, 'a1@lvm', 1, 'error', 'detached', 'kept')"
kept_op() { # STATE SECONDS ERROR
	sql "INSERT INTO volume_operations (created_at, kind, resource_id, service_id, state, finished_at,
		error) VALUES ('$(old_at 0 000000)', 'extend_volume', '$KEPT', $LIVE1, '$1', '$(old_at "$2" 000000)', $3)"
}
kept_op failed 1 "'the first failure'"
kept_op done 2 NULL
kept_op failed 3 "'the latest failure'"
ops_counters() {
	local k s
	for k in create_volume delete_volume extend_volume; do
		for s in done failed; do
			printf '%s ' "$(value cinderfs_storage_operations_total kind $k state $s)" \
				"$(value cinderfs_storage_operation_duration_seconds_count kind $k state $s)" \
				"$(value cinderfs_storage_operation_duration_seconds_sum kind $k state $s)"
			for le in 0.1 0.25 0.5 1 2.5 5 10 30 60 300 +Inf; do
				printf '%s ' "$(value cinderfs_storage_operation_duration_seconds_bucket kind $k state $s le $le)"
			done
		done
	done
}
scrape
OPS_BEFORE=$(ops_counters)
BEFORE="$(value cinderfs_cleanup_requests_total) $(for s in done failed cancelled; do value cinderfs_cleanup_requests_ended_total state $s; done | xargs) \
$(for s in cleaned skipped refused failed cancelled; do value cinderfs_cleanup_resources_total state $s; done | xargs)"
check "before pruning: 5 requests, 3 done, 1 failed, 1 cancelled; resources" "5 3 1 1 5 1 0 2 3" "$BEFORE"
start_worker n2 --cluster c9@lvm --history-keep 1 --service-down-time 60
wait_until 15 grep -q 'volume operations: ' "$TEST_ROOT/n2.log" || log "n2 did not say it pruned"
check "history kept one request" "1" "$(sql 'SELECT count(*) FROM cleanup_requests')"
scrape
AFTER="$(value cinderfs_cleanup_requests_total) $(for s in done failed cancelled; do value cinderfs_cleanup_requests_ended_total state $s; done | xargs) \
$(for s in cleaned skipped refused failed cancelled; do value cinderfs_cleanup_resources_total state $s; done | xargs)"
check "after pruning: every counter as before" "$BEFORE" "$AFTER"
check "volume operations: all but the one in flight, the queued one and the latest failure of a volume that is there are pruned" \
	"create_volume queued|delete_volume running|extend_volume failed the latest failure" \
	"$(sql "SELECT kind || ' ' || state || COALESCE(' ' || error, '') FROM volume_operations ORDER BY kind" | paste -sd'|')"
check "and n2's log says how many" "yes" \
	"$(grep -q 'volume operations: 6 ended more than 90 days ago pruned' "$TEST_ROOT/n2.log" && echo yes || echo no)"
check "the storage counters and histogram as before" "$OPS_BEFORE" "$(ops_counters)"
check "the volume's last_error is its latest failure still" "the latest failure" "$(cat "$M/volumes/$KEPT/last_error")"
check "and the history gauge counts what is kept" "0 0 0 0 1" \
	"$(for s in queued running done failed cancelled; do value cinderfs_cleanup_history_requests state $s; done | xargs)"
