#!/usr/bin/env bash
# Cleanup through the mount: three workers in one cluster and one on its
# own share a database; two die by SIGKILL holding in-flight operations; a
# spec written to cleanup/request has a live peer clean up after them.
. "$(dirname "$0")/lib.sh"

DOWN=3
OPTS=(--service-down-time "$DOWN" --report-interval 1)
start_worker n1 --cluster c1@lvm "${OPTS[@]}"
start_worker n2 --cluster c1@lvm "${OPTS[@]}"
start_worker n3 --cluster c1@lvm "${OPTS[@]}"
start_worker u1 "${OPTS[@]}"
M=$(mnt n1)
R=$M/cleanup/request

V_DEL=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10
V_NEW=1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21
S_NEW=2d9e7a5a-4c81-4f60-9c73-5e319f1a4d32
V_OWN=3eaf8b6b-5d92-4071-8d84-6f42a02b5e43
# What the dying workers were doing: n3 (id 3) deleting one volume and
# creating another and a snapshot; u1 (id 4) creating a volume.
NOW=$(db_time)
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$V_DEL', 'deleting', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_NEW', 'creating', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_OWN', 'creating', 'detached', 1, 'u1@lvm', 0, '$NOW');
INSERT INTO snapshots (id, volume_id, status, deleted, created_at) VALUES
	('$S_NEW', '$V_DEL', 'deleting', 0, '$NOW');
UPDATE snapshots SET status = 'creating', volume_id = '$V_NEW';
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V_DEL', 'deleting', 3, '$NOW', '$NOW'),
	('Volume', '$V_NEW', 'creating', 3, '$NOW', '$NOW'),
	('Snapshot', '$S_NEW', 'creating', 3, '$NOW', '$NOW'),
	('Volume', '$V_OWN', 'creating', 4, '$NOW', '$NOW');"

check "before any request, result is empty lists" '{"cleaning":[],"unavailable":[]}' "$(jq -c . "$M/cleanup/result")"
check "before any request, request is empty" "" "$(cat "$R")"
check "cleanup/request is writable by root and the admin group" "-rw-rw----" "$(stat -c %A "$R")"

for w in n3 u1; do
	kill -KILL "${PIDS[$w]}"; wait "${PIDS[$w]}" 2>/dev/null; unset "PIDS[$w]"
done
stuck_count() { [ "$(ls "$M/stuck/volume" | wc -l)" -eq "$1" ]; }
if wait_until $((DOWN + 4)) stuck_count 3; then ok "the dead workers' volumes are stuck"; else
	not_ok "the dead workers' volumes are stuck" "$(ls "$M/stuck/volume")"; fi

# Refused specs: errno from write(), words in cleanup/error, nothing changes.
# (bash, not dash: dash's echo says "I/O error" whatever the errno.)
check_fails "an unknown key fails the write with EINVAL" "Invalid argument" bash -c "echo bad=1 > '$R'"
check "cleanup/error says why" "Invalid filter keys: bad" "$(cat "$M/cleanup/error")"
check "a refused spec triggers nothing" "0" "$(sql 'SELECT count(*) FROM cleanup_requests')"
check_fails "a bad boolean is EINVAL" "Invalid argument" bash -c "echo 'is_up=maybe' > '$R'"
check "with Cinder's message" "Value maybe for is_up is not a boolean." "$(cat "$M/cleanup/error")"
# One write() of 70,000 bytes (dd bs=): a pipe would write it in pieces,
# and each piece would be a spec of its own.
head -c 70000 /dev/zero | tr '\0' ' ' >"$TEST_ROOT/big.spec"
check_fails "a spec over 64 KiB is EFBIG" "File too large" \
	dd if="$TEST_ROOT/big.spec" of="$R" bs=70000 count=1 status=none
sql "UPDATE services SET rpc_current_version = '0.9' WHERE id = 2"
check_fails "workers at different versions: EBUSY" "Device or resource busy" bash -c "echo > '$R'"
check "with Cinder's message" "Cannot perform workers cleanup during system upgrade." "$(cat "$M/cleanup/error")"
sql "UPDATE services SET rpc_current_version = '1.0' WHERE id = 2"

# The cleanup.
start_ms=$(date +%s%3N)
check_cmd "echo 'cluster_name=c1@lvm' > cleanup/request succeeds" sh -c "echo 'cluster_name=c1@lvm' > '$R'"
check "an accepted spec empties cleanup/error" "" "$(cat "$M/cleanup/error")"
check "cleanup/result (jq)" \
	'{"cleaning":[{"id":3,"host":"n3@lvm","binary":"cinder-volume","cluster_name":"c1@lvm"}],"unavailable":[]}' \
	"$(jq -c . "$M/cleanup/result")"
check "cleanup/request reads back the accepted bytes" "cluster_name=c1@lvm" "$(request_spec "$R")"
check "history lists the request" "00000001" "$(ls "$M/cleanup/history")"
P=$M/cleanup/history/00000001/progress.json
done_state() { [ "$(jq -r .state "$P")" = done ]; }
if wait_until 5 done_state; then ok "the request's work is done"; else not_ok "the request's work is done" "$(cat "$P")"; fi
IFS='|' read -r taken_at created_at < <(sql "SELECT taken_at, created_at
	FROM cleanup_jobs j JOIN cleanup_requests r ON r.id = j.request_id WHERE r.id = 1")
taken=$(ms_between "$created_at" "$taken_at")
check "a live peer took the job within one second" "yes" "$([ "$taken" -le 1000 ] && echo yes || echo "no: $taken ms")"
check "the job was taken by a live member of c1" "yes" \
	"$(case $(sql 'SELECT taken_by FROM cleanup_jobs WHERE request_id = 1') in 1|2) echo yes;; *) echo no;; esac)"
check "stuck/ keeps only the unclustered worker's volume" "$V_OWN" "$(ls "$M/stuck/volume")"
check "stuck/snapshot is empty" "" "$(ls "$M/stuck/snapshot")"
check "the deleting volume is deleted" "deleted|1" "$(sql "SELECT status, deleted FROM volumes WHERE id = '$V_DEL'")"
check "the creating volume is in error" "error" "$(sql "SELECT status FROM volumes WHERE id = '$V_NEW'")"
check "the creating snapshot is in error" "error" "$(sql "SELECT status FROM snapshots WHERE id = '$S_NEW'")"
check "progress.json says each resource was cleaned" "Snapshot:cleaned Volume:cleaned Volume:cleaned" \
	"$(jq -r '[.resources[] | "\(.resource_type):\(.state)"] | sort | join(" ")' "$P")"
check "progress.json says who asked" "0" "$(jq .requested_by.uid "$P")"
check "progress.json's generation has moved with the work" "yes" \
	"$([ "$(jq .generation "$P")" -ge 4 ] && echo yes || echo "no: $(jq .generation "$P")")"
check "and what each step did" "volume set to error" \
	"$(jq -r ".resources[] | select(.resource_id == \"$V_NEW\") | .detail" "$P")"
check "history keeps the request bytes and result" "cluster_name=c1@lvm" "$(cat "$M/cleanup/history/1/request")"
check "history's result is the request's result" "$(cat "$M/cleanup/result")" "$(cat "$M/cleanup/history/1/result")"
check "the other daemons' mounts show the same result" "$(cat "$M/cleanup/result")" "$(cat "$(mnt n2)/cleanup/result")"

# The empty spec: every down worker; the unclustered one cannot be cleaned.
check_cmd "an empty spec is accepted" sh -c "echo > '$R'"
check "it selects every down worker: n3 (its cluster is up) and u1 (unavailable)" '{"cleaning":[3],"unavailable":[4]}' \
	"$(jq -c '{cleaning: [.cleaning[].id], unavailable: [.unavailable[].id]}' "$M/cleanup/result")"
check_cmd "'>>' applies a spec too" sh -c "echo 'host=n3@lvm' >> '$R'"
check "the appended spec is the request" "host=n3@lvm" "$(request_spec "$R")"
check_cmd "a JSON spec is accepted" sh -c "echo '{\"resource_type\": \"volume\", \"cluster_name\": \"c1\"}' > '$R'"
check "and planned like Cinder" '[3]' "$(jq -c '[.cleaning[].id]' "$M/cleanup/result")"
check "history lists newest last (ls)" "00000004" "$(ls "$M/cleanup/history" | tail -1)"

# Two peers racing over the same rows clean each row exactly once.
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
	INSERT INTO volumes (id, status, attach_status, size, deleted)
	SELECT $(seq_uuid aaaaaaaa), 'creating', 'detached', 1, 0 FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
	INSERT INTO workers (resource_type, resource_id, status, service_id, updated_at)
	SELECT 'Volume', $(seq_uuid aaaaaaaa), 'creating', 3, '2026-01-01 00:00:00' FROM n;"
echo 'cluster_name=c1@lvm' > "$R" & w1=$!
echo 'host=n3@lvm' > "$(mnt n2)/cleanup/request" & w2=$!
wait "$w1" "$w2"
all_done() { [ "$(sql "SELECT count(*) FROM cleanup_jobs WHERE state IN ('queued', 'running')")" = 0 ]; }
wait_until 10 all_done
check "every raced row was cleaned exactly once" "40" \
	"$(sql "SELECT count(*) FROM cleanup_progress WHERE state = 'cleaned' AND resource_id LIKE 'aaaaaaaa-%'")"
check "no raced row is left" "0" "$(sql "SELECT count(*) FROM workers WHERE resource_id LIKE 'aaaaaaaa-%'")"
check "every raced volume is in error" "40" "$(sql "SELECT count(*) FROM volumes WHERE id LIKE 'aaaaaaaa-%' AND status = 'error'")"

# A worker that starts cleans its own rows first.
start_worker u1 "${OPTS[@]}"
own_done() { [ "$(sql "SELECT status FROM volumes WHERE id = '$V_OWN'")" = error ]; }
if wait_until 5 own_done; then ok "a restarted worker cleans its own rows at start"; else
	not_ok "a restarted worker cleans its own rows at start"; fi
check "and nothing is stuck any more" "" "$(ls "$M/stuck/volume")"

# The accepted request survives a restart.
last=$(request_spec "$R")
stop_daemon n1 TERM
start_worker n1 --cluster c1@lvm "${OPTS[@]}"
check "cleanup/request reads back the same bytes after a restart" "$last" "$(request_spec "$R")"
check "history survives a restart" "6" "$(ls "$M/cleanup/history" | wc -l)"
true
