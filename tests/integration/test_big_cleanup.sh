#!/usr/bin/env bash
# A cleanup of more deleting volumes than one driver batch takes (LVM: 64
# LVs in one lvremove), on a volume group of this run's own: every volume
# is deleted, in batches of at most 64, with nothing given back. (It used
# to hand all of them to the driver at once, which refused more than 64:
# every row failed, on every retry.) Then a dead worker restarted after a
# peer cleaned its operation does not replay it.
. "$(dirname "$0")/lib.sh"

N=65   # one more than a batch
REAL=12 # of which have an LV (an absent LV counts as removed)
make_vg 1024
start_tgtd
STORAGE=(--volume-group "$VG" --lvm-system-dir "$LVM_SYSTEM_DIR" --tgt-control-port "$TGT_CONTROL_PORT"
	--tgt-bstype null --volumes-dir "$TEST_ROOT/volumes")
mkdir -p "$TEST_ROOT/volumes"
OPTS=(--cluster c1@lvm --service-down-time 3 --report-interval 1)
start_worker w1 "${OPTS[@]}" "${STORAGE[@]}"
M=$(mnt w1)
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'w1@lvm'")

HOUR_AGO=$(db_time '-1 hour')
DEAD=$(sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
	disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
	VALUES ('$HOUR_AGO', '$HOUR_AGO', 0, 'w9@lvm', 'cinder-volume',
	'cinder-volume', 0, 0, 'nova', '$VER', '$VER', 'c1@lvm') RETURNING id")
uuid_of() { printf 'b16b16b1-0000-4000-8000-%012d' "$1"; }
for i in $(seq 1 "$REAL"); do
	lvcreate -q -n "volume-$(uuid_of "$i")" -L 4m "$VG" >/dev/null 2>&1 || echo "# lvcreate $i failed"
done
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
	INSERT INTO volumes (id, status, attach_status, size, host, cluster_name, deleted, created_at)
	SELECT $(seq_uuid b16b16b1), 'deleting', 'detached', 1, 'w9@lvm',
	'c1@lvm', 0, '$HOUR_AGO' FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
	INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
	SELECT 'Volume', $(seq_uuid b16b16b1), 'deleting', $DEAD,
	'$HOUR_AGO', '$HOUR_AGO' FROM n;"
check "before: $REAL of the volumes have an LV" "$REAL" "$(lvs --noheadings -o lv_name "$VG" | wc -l)"

check_cmd "a cleanup of w9 is accepted" sh -c "echo 'host=w9@lvm' > '$M/cleanup/request'"
P=$M/cleanup/history/00000001/progress.json
state=$(timeout 60 jq -r .state "$M/cleanup/history/00000001/wait")
check "the request ends done" "done" "$state"
check "every volume was cleaned" "$N" "$(jq .counts.cleaned "$P")"
check "every volume is deleted" "$N" "$(sql "SELECT count(*) FROM volumes WHERE deleted = 1 AND status = 'deleted'")"
check "no row is left, none given back" "0" "$(sql "SELECT count(*) FROM workers")"
check "no LV is left" "0" "$(lvs --noheadings -o lv_name "$VG" | wc -l)"
check "in batches of at most 64" "deleting 64 volume(s) in one batch" \
	"$(grep -o 'deleting [0-9]* volume(s) in one batch' "$TEST_ROOT/w1.log" | sort -u | xargs)"

# A worker killed with a create queued; a peer's cleanup sets the volume
# to error while it is down; restarted, it must not create it after all.
start_worker w2 "${OPTS[@]}"
W2=$(sql "SELECT id FROM services WHERE host = 'w2@lvm'")
kill -KILL "${PIDS[w2]}"; wait "${PIDS[w2]}" 2>/dev/null; unset 'PIDS[w2]'
V=c0c0c0c0-0000-4000-8000-000000000001
PAST=$(db_time '-1 minute')
sql "INSERT INTO volumes (id, status, attach_status, size, host, cluster_name, deleted, created_at)
	VALUES ('$V', 'creating', 'detached', 1, 'w2@lvm', 'c1@lvm', 0, '$PAST');
	INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
	VALUES ('Volume', '$V', 'creating', $W2, '$PAST', '$PAST');
	INSERT INTO volume_operations (created_at, kind, resource_id, service_id)
	VALUES ('$PAST', 'create_volume', '$V', $W2);"
down() { [ "$(cat "$M/workers/$W2/is_up")" = false ]; }
wait_until 8 down
check_cmd "a cleanup of w2 is accepted" sh -c "echo 'host=w2@lvm' > '$M/cleanup/request'"
check "its peer sets the creating volume to error" "done error" \
	"$(timeout 30 jq -r .state "$M/cleanup/history/00000002/wait") $(sql "SELECT status FROM volumes WHERE id = '$V'")"
start_worker w2 "${OPTS[@]}"
op_ended() { [ "$(sql "SELECT state FROM volume_operations WHERE resource_id = '$V'")" = failed ]; }
if wait_until 8 op_ended; then ok "restarted, w2 does not run the create it was sent"; else
	not_ok "restarted, w2 does not run the create it was sent" "$(sql "SELECT * FROM volume_operations WHERE resource_id = '$V'")"; fi
check "the volume stays in error" "error" "$(sql "SELECT status FROM volumes WHERE id = '$V'")"
check "the operation says why" "yes" "$(sql "SELECT error FROM volume_operations WHERE resource_id = '$V'" |
	grep -q "abandoned: cleaned by worker 1" && echo yes || sql "SELECT error FROM volume_operations WHERE resource_id = '$V'")"
check "and w2's log too" "yes" "$(wait_until 5 grep -q 'abandoned: cleaned by worker 1' "$TEST_ROOT/w2.log" && echo yes || echo no)"
true
