#!/usr/bin/env bash
# Your own answer, and a preview, through the mount with the shell: a read
# on the open file that wrote cleanup/request gives that request's number
# and result whoever else wrote meanwhile; cleanup/history/latest follows
# the newest request; cleanup/preview says what a spec would do (workers
# and every resource, with the action) and records nothing.
. "$(dirname "$0")/lib.sh"

OPTS=(--service-down-time 3 --report-interval 1)
start_worker n1 --cluster c1@lvm "${OPTS[@]}"
start_worker n2 --cluster c1@lvm "${OPTS[@]}"
M=$(mnt n1)
R=$M/cleanup/request
P=$M/cleanup/preview
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm'")
AGO=$(db_time '-1 hour')
NOW=$(db_time)

# Dead workers, as rows: n3 in c1 (its cluster is up: cleaning), u9 alone
# (unavailable), a scheduler (always cleaning).
dead() {
	sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
		disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
		VALUES ('$AGO', '$AGO', 0, '$1', '$2', '$2', 0, 0, 'nova', '$VER', '$VER', $3) RETURNING id"
}
N3=$(dead n3@lvm cinder-volume "'c1@lvm'")
U9=$(dead u9@lvm cinder-volume NULL)
SCH=$(dead sch1 cinder-scheduler NULL)

uuid() { printf '%s-0000-4000-8000-%012d' "$1" "$2"; }
V_DEL=$(uuid aaaaaaaa 1); V_NEW=$(uuid aaaaaaaa 2); V_UPL=$(uuid aaaaaaaa 3)
V_UPA=$(uuid aaaaaaaa 4); V_MOVED=$(uuid aaaaaaaa 5); V_GONE=$(uuid aaaaaaaa 6)
S_NEW=$(uuid bbbbbbbb 1); S_DEL=$(uuid bbbbbbbb 2); V_SCH=$(uuid aaaaaaaa 7)
V_SCHDEL=$(uuid aaaaaaaa 8); V_U9=$(uuid aaaaaaaa 9)
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$V_DEL', 'deleting', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_NEW', 'creating', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_UPL', 'uploading', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_UPA', 'uploading', 'attached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_MOVED', 'available', 'detached', 1, 'n3@lvm', 0, '$NOW'),
	('$V_SCH', 'creating', 'detached', 1, NULL, 0, '$NOW'),
	('$V_SCHDEL', 'deleting', 'detached', 1, NULL, 0, '$NOW'),
	('$V_U9', 'creating', 'detached', 1, 'u9@lvm', 0, '$NOW');
INSERT INTO snapshots (id, volume_id, status, deleted, created_at) VALUES
	('$S_NEW', '$V_MOVED', 'creating', 0, '$NOW'),
	('$S_DEL', '$V_MOVED', 'deleting', 0, '$NOW');
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V_DEL', 'deleting', $N3, '$AGO', '$AGO'),
	('Volume', '$V_NEW', 'creating', $N3, '$AGO', '$AGO'),
	('Volume', '$V_UPL', 'uploading', $N3, '$AGO', '$AGO'),
	('Volume', '$V_UPA', 'uploading', $N3, '$AGO', '$AGO'),
	('Volume', '$V_MOVED', 'deleting', $N3, '$AGO', '$AGO'),
	('Volume', '$V_GONE', 'creating', $N3, '$AGO', '$AGO'),
	('Snapshot', '$S_NEW', 'creating', $N3, '$AGO', '$AGO'),
	('Snapshot', '$S_DEL', 'deleting', $N3, '$AGO', '$AGO'),
	('Volume', '$V_SCH', 'creating', $SCH, '$AGO', '$AGO'),
	('Volume', '$V_SCHDEL', 'deleting', $SCH, '$AGO', '$AGO'),
	('Volume', '$V_U9', 'creating', $U9, '$AGO', '$AGO');"

# ---- Preview: what a spec would do, nothing done ----

check "cleanup/preview is listed, writable by root and the admin group, empty" "-rw-rw---- 0" \
	"$(stat -c '%A %s' "$P")"
check "read before any write: empty" "" "$(cat "$P")"

# Everything a request leaves: rows of its own tables, the operations
# rows, the resources' statuses, the history listing, the generation.
footprint() {
	sql "SELECT (SELECT count(*) FROM cleanup_requests) || ' ' || (SELECT count(*) FROM cleanup_jobs)
		|| ' ' || (SELECT count(*) FROM cleanup_progress) || ' ' || (SELECT count(*) FROM cleanup_results)
		|| ' ' || (SELECT count(*) FROM cleanup_request_sizes) || ' ' || (SELECT count(*) FROM workers)
		|| ' ' || (SELECT COALESCE(sum(generation), 0) FROM cleanup_request_sizes)"
	sql "SELECT id || ':' || status FROM volumes ORDER BY id"
	sql "SELECT id || ':' || status FROM snapshots ORDER BY id"
	ls -l "$M/cleanup/history"
}
before=$(footprint)
exec 3<>"$P"
if printf '{}\n' >&3; then ok "a spec written to cleanup/preview is taken"; else not_ok "a spec written to cleanup/preview is taken" "$(cat "$M/cleanup/error")"; fi
preview=$(cat <&3)
exec 3>&-
check "the preview is JSON" "ok" "$(jq -e . >/dev/null <<<"$preview" && echo ok)"
check "it names the workers as the request would: cleaning n3 and the scheduler, u9 unavailable" \
	"{\"cleaning\":[$N3,$SCH],\"unavailable\":[$U9]}" \
	"$(jq -c '{cleaning: [.cleaning[].id], unavailable: [.unavailable[].id]}' <<<"$preview")"
action() { jq -r --arg id "$1" '.resources[] | select(.resource_id == $id) | "\(.status) \(.action)"' <<<"$preview"; }
check "a deleting volume: delete" "deleting delete" "$(action "$V_DEL")"
check "a creating volume: error" "creating error" "$(action "$V_NEW")"
check "an uploading volume, detached: available" "uploading available" "$(action "$V_UPL")"
check "an uploading volume, attached: in-use" "uploading in-use" "$(action "$V_UPA")"
check "a volume whose status moved on: skip" "available skip" "$(action "$V_MOVED")"
check "a volume that is gone: skip, status null" "null skip" "$(action "$V_GONE")"
check "a creating snapshot: error" "creating error" "$(action "$S_NEW")"
check "a deleting snapshot: delete" "deleting delete" "$(action "$S_DEL")"
check "a scheduler's creating volume: error" "creating error" "$(action "$V_SCH")"
check "a scheduler's deleting volume: skip (the scheduler only fails creates)" "deleting skip" "$(action "$V_SCHDEL")"
check "an unavailable worker's resources are not listed (nobody would reach them)" "" "$(action "$V_U9")"
check "each resource names its worker, and skip says why" "$N3 the volume is available now, not deleting: row removed" \
	"$(jq -r --arg id "$V_MOVED" '.resources[] | select(.resource_id == $id) | "\(.worker_id) \(.detail)"' <<<"$preview")"
check "resources come in worker, then row order" "$N3 $N3 $N3 $N3 $N3 $N3 $N3 $N3 $SCH $SCH" \
	"$(jq -r '[.resources[].worker_id] | join(" ")' <<<"$preview")"
check "a resource_type filter narrows the resources" "Snapshot Snapshot" \
	"$(exec 3<>"$P"; echo 'resource_type=snapshot' >&3; jq -r '[.resources[].resource_type] | join(" ")' <&3)"
check "preview changed nothing in the database, nor the history listing" "$before" "$(footprint)"

# A bad spec: the same errno and words as on request, on both files.
for spec in 'bad=1' 'is_up=maybe' 'host=' '{"host": "a", "host": "b"}' 'resource_id=nope' \
	"resource_id=$(uuid cccccccc 1)"; do
	p_out=$( (printf '%s\n' "$spec" >"$P") 2>&1); p_err=$(cat "$M/cleanup/error")
	r_out=$( (printf '%s\n' "$spec" >"$R") 2>&1); r_err=$(cat "$M/cleanup/error")
	check "bad spec '$spec': preview and request fail alike" "${r_out##*: } / $r_err" "${p_out##*: } / $p_err"
done
check "a refused spec fails with EINVAL" "Invalid argument" "${p_out##*: }"
sql "UPDATE services SET rpc_current_version = '0.9' WHERE id = $U9"
check_fails "during an upgrade, preview is EBUSY too" "Device or resource busy" bash -c "echo > '$P'"
check "with Cinder's words" "Cannot perform workers cleanup during system upgrade." "$(cat "$M/cleanup/error")"
sql "UPDATE services SET rpc_current_version = '$VER' WHERE id = $U9"
check "refusals changed nothing either" "$before" "$(footprint)"
exec 3<>"$P"
printf 'bad=1\n' >&3 2>/dev/null
check "a refused write leaves nothing to read on its file: EOF" "0" "$(cat <&3 | wc -c)"
exec 3>&-

# ---- Your own answer ----

check "before any request, history/latest does not exist" "absent" \
	"$(test -L "$M/cleanup/history/latest" && echo present || echo absent)"
exec 3<>"$R"
check "a fd that wrote nothing reads the last spec accepted, as before" "" "$(cat <&3)"
printf '{}\n' >&3
read -r req <&3
answer_result=$(cat <&3)
exec 3>&-
check "the first line of the answer is the request's number" "1" "$req"
check "the rest is its result, byte for byte history/<n>/result" \
	"$(cat "$M/cleanup/history/$req/result")" "$answer_result"
check "and cleanup/result keeps Cinder's exact JSON" "$(cat "$M/cleanup/history/1/result")" "$(cat "$M/cleanup/result")"
check "the preview's workers are the request's, byte for byte" \
	"$(jq '{cleaning, unavailable}' <<<"$preview" | jq -c .)" "$(jq -c . <<<"$answer_result")"

# The kernel keeps a name's absence for up to 0.5 s (negative_timeout),
# as for every entry that appears: the first request's link may take that.
has_latest() { test -L "$M/cleanup/history/latest"; }
if wait_until 2 has_latest; then ok "history/latest appears with the first request"; else
	not_ok "history/latest appears with the first request"; fi
check "history/latest is a symlink to the newest entry (readlink)" "00000001" "$(readlink "$M/cleanup/history/latest")"
check "ls -l shows it as a link to the entry" "l -> 00000001" \
	"$(ls -l "$M/cleanup/history/latest" | awk '{print substr($1, 1, 1), $(NF-1), $NF}')"
check "its st_size is its target's length" "8" "$(stat -c %s "$M/cleanup/history/latest")"
check "stat -L sees the entry's directory" "directory" "$(stat -L -c %F "$M/cleanup/history/latest")"
check "cd through it" "{}" "$(cd "$M/cleanup/history/latest" && cat request)"
check "it is not listed: ls of history lists each request once" "00000001" "$(ls "$M/cleanup/history")"

# Several requests at once from shells of their own, on two mounts: each
# reads its own number and its own result. Each spec selects a different
# worker so that the results differ.
racer() {
	local i=$1 mount=$2 spec n
	case $((i % 3)) in
	0) spec="service_id=$N3" ;;
	1) spec="service_id=$SCH" ;;
	2) spec="{\"service_id\": $U9}" ;;
	esac
	exec 3<>"$mount/cleanup/request"
	printf '%s\n' "$spec" >&3 || { echo "$i FAILED"; return; }
	read -r n <&3
	# The spec this number stands for, and the result this fd read.
	printf '%s %s %s %s\n' "$i" "$n" "$(jq -c '[.cleaning[].id, .unavailable[].id]' <&3)" "$spec"
	exec 3>&-
}
racers=()
for i in $(seq 1 20); do
	racer "$i" "$(mnt "n$((i % 2 + 1))")" >"$TEST_ROOT/race.$i" &
	racers+=($!)
done
wait "${racers[@]}"
cat "$TEST_ROOT"/race.* >"$TEST_ROOT/race"
check "20 concurrent writers each read a number" "20" "$(awk '$2 ~ /^[0-9]+$/' "$TEST_ROOT/race" | wc -l)"
check "every number is distinct" "20" "$(awk '{print $2}' "$TEST_ROOT/race" | sort -u | wc -l)"
mismatch=""
while read -r i n got spec; do
	want_spec=$(cat "$M/cleanup/history/$n/request")
	want=$(jq -c '[.cleaning[].id, .unavailable[].id]' "$M/cleanup/history/$n/result")
	[ "$want_spec" = "$spec" ] && [ "$want" = "$got" ] || mismatch+="writer $i read $n ($got) for '$spec'; history/$n has '$want_spec' ($want); "
done <"$TEST_ROOT/race"
check "each writer's number is its own request, and its result is that request's" "" "$mismatch"
check "each reads the worker its own spec named" "" \
	"$(awk -v n3="[$N3]" -v sch="[$SCH]" -v u9="[$U9]" '($1 % 3 == 0 && $3 != n3) || ($1 % 3 == 1 && $3 != sch) || ($1 % 3 == 2 && $3 != u9)' "$TEST_ROOT/race")"
newest=$(sql "SELECT max(id) FROM cleanup_requests")
check "history/latest follows the newest request" "$(printf '%08d' "$newest")" "$(readlink "$M/cleanup/history/latest")"
check "on every mount" "$(printf '%08d' "$newest")" "$(readlink "$(mnt n2)/cleanup/history/latest")"
echo 'service_id=999' >"$R"
check "and moves on at once with the next one" "$(printf '%08d' $((newest + 1)))" "$(readlink "$M/cleanup/history/latest")"
check "latest/request is the newest request's" "service_id=999" "$(cat "$M/cleanup/history/latest/request")"

# Reads of the answer from offset 0 (a program that seeks back, or pread).
exec 3<>"$R"
echo "service_id=$N3" >&3
check "read back from offset 0 (seek): the answer whole" \
	"$(( newest + 2 ))|$(jq -c . "$M/cleanup/history/$((newest + 2))/result")" \
	"$(python3 -c 'import os,sys,json
os.lseek(3, 0, os.SEEK_SET)
data = os.read(3, 1 << 20).decode()
n, rest = data.split("\n", 1)
print(n + "|" + json.dumps(json.loads(rest), separators=(",", ":")))')"
exec 3>&-
check "jq reads the answer as a stream: the number, then the result" \
	"[\"number\",\"object\"]" "$(exec 3<>"$R"; echo "service_id=$N3" >&3; jq -c -s 'map(type)' <&3)"
# (fstat of the writing fd says where the write ended: the kernel keeps
# the size a write leaves, and asks no one. Read the answer to EOF.)

# A refused write on a fd that had an answer: nothing left to read.
exec 3<>"$R"
echo "service_id=$N3" >&3
printf 'bad=1\n' >&3 2>/dev/null
check "a refused write leaves nothing readable (EOF), not the previous answer" "0" "$(cat <&3 | wc -c)"
exec 3>&-

# /bin/sh (dash, as Puppet's shell provider runs it) reads the answer
# too: its read takes a byte at a time.
check "sh: exec 3<>, printf, read -r gives the request's number" "$(($(sql 'SELECT max(id) FROM cleanup_requests') + 1))" \
	"$(sh -c "exec 3<>'$R' && printf 'service_id=$N3\\n' >&3 && read -r n <&3 && echo \$n")"
check "sh: the preview's resources, with jq" "0" \
	"$(sh -c "exec 3<>'$P' && printf 'service_id=$N3\\n' >&3 && jq '[.resources[] | select(.action != \"skip\")] | length' <&3")"

# The rename-over path of config management is unchanged.
printf 'service_id=%s\n' "$N3" >"$M/cleanup/.tmprequest"
check_cmd "rename over cleanup/request still applies a spec" mv "$M/cleanup/.tmprequest" "$R"
check "and reads back" "service_id=$N3" "$(request_spec "$R")"
true
