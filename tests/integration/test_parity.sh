#!/usr/bin/env bash
# Parity with Cinder's cleanup where it is easy to get wrong, through a real
# mount: a worker that never sent a heartbeat is down; empty, duplicate and
# quoted values in a spec; `disabled` null; malformed JSON; and the
# cleaner's corners (rows needing no cleanup, snapshots being deleted, a
# volume whose snapshots are not all deleting, another backend's volume, a
# scheduler's rows, the storage-less driver's words).
#
# Two live workers (n1, n2 in c1@lvm, no volume group: the "none" driver);
# every dead worker is a services row seeded with SQL, its heartbeat long
# ago (or never).
. "$(dirname "$0")/lib.sh"

DOWN=3
OPTS=(--service-down-time "$DOWN" --report-interval 1)
start_worker n1 --cluster c1@lvm "${OPTS[@]}"
start_worker n2 --cluster c1@lvm "${OPTS[@]}"
M=$(mnt n1)
R=$M/cleanup/request

# The version the live workers report: every seeded row reports the same,
# so that the upgrade check (EBUSY) does not fire.
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm' AND deleted = 0")
OVER=$(sql "SELECT object_current_version FROM services WHERE host = 'n1@lvm' AND deleted = 0")
[ -n "$VER" ] || { echo "FAIL: n1 reports no rpc_current_version"; exit 1; }

# seed_service HOST BINARY CLUSTER CREATED UPDATED [DISABLED]: a services
# row; CLUSTER, CREATED and UPDATED are SQL (NULL, 'c1@lvm', '$(db_time)').
# Prints the new row's id.
seed_service() {
	sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic,
		report_count, disabled, availability_zone, rpc_current_version, object_current_version,
		cluster_name)
	VALUES ($4, $5, 0, '$1', '$2', '$2', 0, ${6:-0}, 'nova', '$VER', '$OVER', $3) RETURNING id"
}
HOUR_AGO="'$(db_time '-1 hour')'"
PAST="'$(db_time '-1 minute')'"

# put TEXT: TEXT and a newline to cleanup/request in one write() (bash's
# echo: a refused write shows its errno, where dash's says "I/O error").
put() { bash -c 'echo "$1" > "$2"' put "$1" "$R"; }
ids() { jq -c '{cleaning: [.cleaning[].id], unavailable: [.unavailable[].id]}' "$M/cleanup/result"; }
requests() { sql 'SELECT count(*) FROM cleanup_requests'; }
last_request() { ls "$M/cleanup/history" | tail -1; }
# over N: request N's jobs have all ended (done or failed).
over() {
	case $(jq -r .state "$M/cleanup/history/$1/progress.json") in done|failed) return 0;; esac
	return 1
}
# wait_over DESCRIPTION: the last request's work ends within 8 s; sets P to
# its progress.json.
wait_over() {
	local n
	n=$(last_request)
	P=$M/cleanup/history/$n/progress.json
	if wait_until 8 over "$n"; then ok "$1"; else not_ok "$1" "$(cat "$P")"; fi
}
# res FIELD UUID: the field of the resource's entry in $P
res() { jq -r --arg id "$2" ".resources[] | select(.resource_id == \$id) | .$1" "$P"; }
has() { [[ "$1" == *"$2"* ]] && echo yes || echo "no: $1"; }
no_jobs_running() {
	[ "$(sql "SELECT count(*) FROM cleanup_jobs WHERE state IN ('queued', 'running')")" = 0 ]
}

###########################################################################
# A. Liveness: a worker that never sent a heartbeat is down, though a new
# created_at still has `is_up: true` select it (doc/cleanup.md section 2).
###########################################################################
V_FR=a0000000-0000-4000-8000-000000000001
FRESH=$(seed_service fresh@lvm cinder-volume NULL "'$(db_time)'" NULL)
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$V_FR', 'creating', 'detached', 1, 'fresh@lvm', 0, $PAST);
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V_FR', 'creating', $FRESH, $PAST, $PAST);"
# Each check below needs created_at within service_down_time: renew it.
renew() { sql "UPDATE services SET created_at = '$(db_time)' WHERE id = $1"; }

renew "$FRESH"
check "a never-heartbeated worker: workers/<id>/is_up is false" "false" "$(cat "$M/workers/$FRESH/is_up")"
renew "$FRESH"
check "and its info.json says is_up false" "false" "$(jq .is_up "$M/workers/$FRESH/info.json")"
renew "$FRESH"
check "its operation is listed under stuck/volume" "yes" \
	"$(ls "$M/stuck/volume" | grep -qx "$V_FR" && echo yes || echo "no: $(ls "$M/stuck/volume" | tr '\n' ' ')")"
renew "$FRESH"
check_cmd '{"is_up": true} is accepted' put '{"is_up": true}'
check "is_up true selects it (new created_at), and it is unavailable, not cleaning" "unavailable" \
	"$(jq -r --argjson id "$FRESH" 'if any(.cleaning[]; .id == $id) then "cleaning"
		elif any(.unavailable[]; .id == $id) then "unavailable" else "not selected" end' "$M/cleanup/result")"
check "no job is queued for it" "0" "$(sql "SELECT count(*) FROM cleanup_jobs WHERE service_id = $FRESH")"

# A cluster whose members are one never-heartbeated (m1) and one long dead.
sql "INSERT INTO clusters (created_at, updated_at, deleted, name, \"binary\", disabled, race_preventer)
	VALUES ($HOUR_AGO, $HOUR_AGO, 0, 'cx@lvm', 'cinder-volume', 0, 0)"
M1=$(seed_service m1@lvm cinder-volume "'cx@lvm'" "'$(db_time)'" NULL)
M2=$(seed_service m2@lvm cinder-volume "'cx@lvm'" "$HOUR_AGO" "$HOUR_AGO")
renew "$M1"
check "clusters/cx@lvm/is_up is false (m1 never sent a heartbeat)" "false" "$(cat "$M/clusters/cx@lvm/is_up")"
renew "$M1"
check "clusters/cx@lvm/num_down_hosts is 2" "2" "$(cat "$M/clusters/cx@lvm/num_down_hosts")"
check "clusters/cx@lvm/num_hosts is 2" "2" "$(cat "$M/clusters/cx@lvm/num_hosts")"
renew "$M1"
check_cmd '{"cluster_name": "cx@lvm"} is accepted' put '{"cluster_name": "cx@lvm"}'
check "m2 is unavailable (its cluster is down); m1 is not selected (new created_at)" \
	"{\"cleaning\":[],\"unavailable\":[$M2]}" "$(ids)"
check "no job is queued for m2" "0" "$(sql "SELECT count(*) FROM cleanup_jobs WHERE service_id = $M2")"

###########################################################################
# B. Empty values are refused: they must never widen a cleanup.
###########################################################################
before=$(requests)
for key in host cluster_name resource_id resource_type service_id; do
	check_fails "'$key=' fails with EINVAL" "Invalid argument" put "$key="
	check "cleanup/error says '$key must not be empty.'" "$key must not be empty." "$(cat "$M/cleanup/error")"
done
check_fails '{"host": ""} fails with EINVAL' "Invalid argument" put '{"host": ""}'
check "cleanup/error says 'host must not be empty.'" "host must not be empty." "$(cat "$M/cleanup/error")"
check_fails 'echo "host=$H" with H empty fails with EINVAL' "Invalid argument" \
	bash -c 'H=; echo "host=$H" > "$1"' sh "$R"
check "cleanup/error says 'host must not be empty.' again" "host must not be empty." "$(cat "$M/cleanup/error")"
check "no refused spec made a request" "$before" "$(requests)"

# check_spec DESCRIPTION WANT_RC WANT_STDERR CONTENT: cinderfs --check-spec
# on a file holding CONTENT (and a newline).
check_spec() {
	local f=$TEST_ROOT/spec.$RANDOM err rc
	printf '%s\n' "$4" >"$f"
	err=$("$CINDERFS" --check-spec "$f" 2>&1 >/dev/null)
	rc=$?
	if [ "$2" = 0 ]; then
		check "$1" "rc=0 stderr=" "rc=$rc stderr=$err"
	elif [ "$rc" -ne 0 ] && [[ "$err" == *"$3"* ]]; then
		ok "$1"
	else
		not_ok "$1" "expected: non-zero exit, stderr with: $3" "actual:   rc=$rc stderr=$err"
	fi
	rm -f "$f"
}
check_spec "--check-spec refuses host=" 1 "host must not be empty." "host="
check_spec '--check-spec refuses {"host": ""}' 1 "host must not be empty." '{"host": ""}'
check_spec "--check-spec accepts host=n1@lvm" 0 "" "host=n1@lvm"

###########################################################################
# C. Duplicate keys are refused; matching quotes around a value are removed.
###########################################################################
X=$(seed_service n3@lvm cinder-volume "'c1@lvm'" "$HOUR_AGO" "$HOUR_AGO")
before=$(requests)
check_fails "'host=a host=b' fails with EINVAL" "Invalid argument" put "host=a host=b"
check "cleanup/error names the key" "Duplicate filter key: host" "$(cat "$M/cleanup/error")"
check_fails 'a JSON key given twice fails with EINVAL' "Invalid argument" \
	put '{"is_up": "junk", "is_up": "false"}'
check "cleanup/error names the JSON key" "Duplicate filter key: is_up" "$(cat "$M/cleanup/error")"
check "no duplicate made a request" "$before" "$(requests)"
check_cmd "host=\"n3@lvm\" is accepted" put 'host="n3@lvm"'
check "double quotes are removed: it selects n3" "{\"cleaning\":[$X],\"unavailable\":[]}" "$(ids)"
check_cmd "host='n3@lvm' is accepted" put "host='n3@lvm'"
check "single quotes are removed: it selects n3" "{\"cleaning\":[$X],\"unavailable\":[]}" "$(ids)"
check_cmd 'host=n3"@lvm is accepted' put 'host=n3"@lvm'
check "a quote inside a value is literal: nothing selected" '{"cleaning":[],"unavailable":[]}' "$(ids)"

###########################################################################
# D. disabled: null (JSON or word) means either; true only the disabled.
# Two dead unclustered workers (their own flag decides), one disabled.
###########################################################################
DZ1=$(seed_service dz1@lvm cinder-volume NULL "$HOUR_AGO" "$HOUR_AGO" 1)
DZ2=$(seed_service dz2@lvm cinder-volume NULL "$HOUR_AGO" "$HOUR_AGO" 0)
dz() { jq -c --argjson a "$DZ1" --argjson b "$DZ2" \
	'[.cleaning[].id, .unavailable[].id] | map(select(. == $a or . == $b)) | sort' "$M/cleanup/result"; }
check_cmd '{"disabled": null} is accepted' put '{"disabled": null}'
check '{"disabled": null} selects the disabled and the enabled worker' "[$DZ1,$DZ2]" "$(dz)"
check_cmd 'disabled=null is accepted' put 'disabled=null'
check 'disabled=null selects the disabled and the enabled worker' "[$DZ1,$DZ2]" "$(dz)"
check_cmd 'disabled=true is accepted' put 'disabled=true'
check 'disabled=true selects only the disabled worker' "[$DZ1]" "$(dz)"
check_cmd 'disabled=false is accepted' put 'disabled=false'
check 'disabled=false selects only the enabled worker' "[$DZ2]" "$(dz)"

###########################################################################
# E. Malformed JSON, and JSON that is not an object.
###########################################################################
before=$(requests)
# printf without a newline: the input ends on line 1.
check_fails 'truncated JSON fails with EINVAL' "Invalid argument" \
	bash -c 'printf "%s" "{\"host\": " > "$1"' sh "$R"
check "cleanup/error starts with 'Invalid JSON in filter spec at line 1'" "yes" \
	"$([[ "$(cat "$M/cleanup/error")" == "Invalid JSON in filter spec at line 1"* ]] && echo yes || echo "no: $(cat "$M/cleanup/error")")"
check_fails "'[]' fails with EINVAL" "Invalid argument" put '[]'
check "cleanup/error says it must be an object" "yes" "$(has "$(cat "$M/cleanup/error")" "must be a JSON object")"
check "no malformed spec made a request" "$before" "$(requests)"

###########################################################################
# F. The cleaner's corners. Dead members of c1@lvm own the rows (d1, d2,
# d3), and a dead scheduler; a live member (n1 or n2, no storage driver)
# cleans them.
###########################################################################
# What the requests above queued (jobs for n3, with nothing to clean) ends
# first, so that no earlier request reaches the rows seeded now.
if wait_until 8 no_jobs_running; then ok "the earlier requests' jobs have ended"; else
	not_ok "the earlier requests' jobs have ended" "$(sql "SELECT * FROM cleanup_jobs WHERE state IN ('queued', 'running')")"; fi
D1=$(seed_service d1@lvm cinder-volume "'c1@lvm'" "$HOUR_AGO" "$HOUR_AGO")
D2=$(seed_service d2@lvm cinder-volume "'c1@lvm'" "$HOUR_AGO" "$HOUR_AGO")
D3=$(seed_service d3@lvm cinder-volume "'c1@lvm'" "$HOUR_AGO" "$HOUR_AGO")
SCH=$(seed_service sch1 cinder-scheduler NULL "$HOUR_AGO" "$HOUR_AGO")

V1=f1000000-0000-4000-8000-000000000001   # F1: available, row available (d1)
VP=f2000000-0000-4000-8000-000000000000   # parent of S2D and S6 (no row)
S2D=f2000000-0000-4000-8000-000000000001  # F2: snapshot deleting (d2)
V3=f3000000-0000-4000-8000-000000000001   # F3: volume deleting (d2) ...
S3A=f3000000-0000-4000-8000-00000000000a  # ... its older snapshot, deleting
S3B=f3000000-0000-4000-8000-00000000000b  # ... its newer snapshot, error
V4=f4000000-0000-4000-8000-000000000001   # F4: creating on other@lvm (d3)
V5=f5000000-0000-4000-8000-000000000001   # F5: creating on d2@lvm#pool (d2)
V6A=f6000000-0000-4000-8000-00000000000a  # F6: scheduler's creating volume
V6B=f6000000-0000-4000-8000-00000000000b  # F6: scheduler's deleting volume
S6=f6000000-0000-4000-8000-00000000000c   # F6: scheduler's creating snapshot
V7=f7000000-0000-4000-8000-000000000001   # F7: deleting, no snapshots (d2)
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$V1', 'available', 'detached', 1, 'd1@lvm#pool', 0, $HOUR_AGO),
	('$VP', 'available', 'detached', 1, 'd2@lvm#pool', 0, $HOUR_AGO),
	('$V3', 'deleting', 'detached', 1, 'd2@lvm#pool', 0, $HOUR_AGO),
	('$V4', 'creating', 'detached', 1, 'other@lvm#pool', 0, $PAST),
	('$V5', 'creating', 'detached', 1, 'd2@lvm#pool', 0, $PAST),
	('$V6A', 'creating', 'detached', 1, NULL, 0, $PAST),
	('$V6B', 'deleting', 'detached', 1, NULL, 0, $HOUR_AGO),
	('$V7', 'deleting', 'detached', 1, 'd2@lvm#pool', 0, $HOUR_AGO);
INSERT INTO snapshots (id, volume_id, status, deleted, created_at) VALUES
	('$S2D', '$VP', 'deleting', 0, $HOUR_AGO),
	('$S3A', '$V3', 'deleting', 0, '$(db_time '-50 minutes')'),
	('$S3B', '$V3', 'error', 0, '$(db_time '-40 minutes')'),
	('$S6', '$VP', 'creating', 0, $PAST);
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V1', 'available', $D1, $PAST, $PAST),
	('Snapshot', '$S2D', 'deleting', $D2, $PAST, $PAST),
	('Volume', '$V3', 'deleting', $D2, $PAST, $PAST),
	('Volume', '$V4', 'creating', $D3, $PAST, $PAST),
	('Volume', '$V5', 'creating', $D2, $PAST, $PAST),
	('Volume', '$V6A', 'creating', $SCH, $PAST, $PAST),
	('Volume', '$V6B', 'deleting', $SCH, $PAST, $PAST),
	('Snapshot', '$S6', 'creating', $SCH, $PAST, $PAST),
	('Volume', '$V7', 'deleting', $D2, $PAST, $PAST);"
rows_of() { sql "SELECT count(*) FROM workers WHERE resource_id = '$1'"; }
vol() { sql "SELECT status || '|' || deleted FROM volumes WHERE id = '$1'"; }
snap() { sql "SELECT status || '|' || deleted FROM snapshots WHERE id = '$1'"; }

# F1: a row whose status needs no cleanup is removed, never given back.
check_cmd "host=d1@lvm is accepted" put "host=d1@lvm"
check "d1 is being cleaned by its cluster" "{\"cleaning\":[$D1],\"unavailable\":[]}" "$(ids)"
wait_over "F1: the request's work ends"
check "F1: the available row is skipped" "skipped" "$(res state "$V1")"
check "F1: progress says it needs no cleanup" "yes" "$(has "$(res detail "$V1")" "needs no cleanup")"
check "F1: the row is gone" "0" "$(rows_of "$V1")"
check "F1: the volume stays available" "available|0" "$(vol "$V1")"
n_before=$(ls "$M/cleanup/history" | wc -l)
check_cmd "F1: the same request again is accepted" put "host=d1@lvm"
check "F1: it is a request of its own" "$((n_before + 1))" "$(ls "$M/cleanup/history" | wc -l)"
wait_over "F1: the second request's work ends"
check "F1: the second request reaches no resource" "[]" "$(jq -c .resources "$P")"

# F2, F3, F5, F7: d2's rows.
check_cmd "host=d2@lvm is accepted" put "host=d2@lvm"
check "d2 is being cleaned by its cluster" "{\"cleaning\":[$D2],\"unavailable\":[]}" "$(ids)"
wait_over "d2's request's work ends"
check "F2: the deleting snapshot is cleaned" "cleaned" "$(res state "$S2D")"
check "F2: the snapshot is deleted" "deleted|1" "$(snap "$S2D")"
check "F2: progress says there is no storage driver" "yes" "$(has "$(res detail "$S2D")" "no storage driver")"
check "F2: the row is gone" "0" "$(rows_of "$S2D")"
check "F3: the older snapshot (deleting) is deleted" "1" "$(sql "SELECT deleted FROM snapshots WHERE id = '$S3A'")"
check "F3: the newer snapshot stays in error" "error|0" "$(snap "$S3B")"
check "F3: the volume ends error_deleting" "error_deleting|0" "$(vol "$V3")"
check "F3: progress says error_deleting" "yes" "$(has "$(res detail "$V3")" "error_deleting")"
check "F5: a volume on the dead member's host#pool is cleaned" "cleaned" "$(res state "$V5")"
check "F5: it is in error" "error|0" "$(vol "$V5")"
check "F7: the deleting volume is cleaned" "cleaned" "$(res state "$V7")"
check "F7: it is deleted" "deleted|1" "$(vol "$V7")"
check "F7: progress says there is no storage driver" "yes" "$(has "$(res detail "$V7")" "no storage driver")"
check "F7: progress does not claim an export was removed" "yes" \
	"$([[ "$(res detail "$V7")" != *"export removed"* ]] && echo yes || echo "no: $(res detail "$V7")")"

# F4: another backend's volume is refused, and its row kept for its owner.
check_cmd "cluster_name=c1@lvm is accepted" put "cluster_name=c1@lvm"
check "it cleans d3 (and the other dead members of c1)" "yes" \
	"$(jq -e --argjson id "$D3" 'any(.cleaning[]; .id == $id)' "$M/cleanup/result" >/dev/null && echo yes || echo "no: $(ids)")"
wait_over "F4: the request's work ends"
check "F4: another backend's volume is refused" "refused" "$(res state "$V4")"
check "F4: progress says why" "yes" "$(has "$(res detail "$V4")" "not this worker's backend")"
check "F4: the volume stays creating" "creating|0" "$(vol "$V4")"
check "F4: the row stays with the dead member" "$D3" "$(sql "SELECT service_id FROM workers WHERE resource_id = '$V4'")"

# F6: a dead scheduler's rows.
check_cmd "binary=cinder-scheduler is accepted" put "binary=cinder-scheduler"
check "the scheduler is being cleaned" "{\"cleaning\":[$SCH],\"unavailable\":[]}" "$(ids)"
wait_over "F6: the request's work ends"
check "F6: the scheduler's creating volume is cleaned" "cleaned" "$(res state "$V6A")"
check "F6: it is in error" "error|0" "$(vol "$V6A")"
check "F6: the scheduler's deleting volume is skipped" "skipped" "$(res state "$V6B")"
check "F6: progress names cinder-scheduler" "yes" "$(has "$(res detail "$V6B")" "cinder-scheduler")"
check "F6: the deleting volume stays deleting" "deleting|0" "$(vol "$V6B")"
check "F6: its row is removed" "0" "$(rows_of "$V6B")"
check "F6: the scheduler's creating snapshot is skipped" "skipped" "$(res state "$S6")"
check "F6: the snapshot stays creating" "creating|0" "$(snap "$S6")"
check "F6: its row is removed" "0" "$(rows_of "$S6")"
true
