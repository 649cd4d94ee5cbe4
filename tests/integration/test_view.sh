#!/usr/bin/env bash
# The read-only view: a cluster of three workers sharing one database; one
# dies by SIGKILL holding in-flight rows, which then show under stuck/.
. "$(dirname "$0")/lib.sh"

DOWN=3   # service_down_time, seconds
OPTS=(--cluster c1@lvm --service-down-time "$DOWN" --report-interval 1)
start_worker n1 "${OPTS[@]}"
start_worker n2 "${OPTS[@]}"
start_worker n3 "${OPTS[@]}"
M=$(mnt n1)

check "workers/ lists the three workers, and its error file" "error 1 2 3" "$(ls "$M/workers" | sort -n | xargs)"
check "a worker's host" "n3@lvm" "$(cat "$M/workers/3/host")"
check "a worker's cluster_name" "c1@lvm" "$(cat "$M/workers/3/cluster_name")"
check "a live worker is up" "true" "$(cat "$M/workers/3/is_up")"
check "a worker's directory holds its value files" \
	"binary capacity cluster_name disabled disabled_reason host info.json is_up updated_at version" \
	"$(ls "$M/workers/1" | xargs)"
check "clusters/ lists the cluster, and its error file" "c1@lvm error" "$(ls "$M/clusters" | xargs)"
C=$M/clusters/c1@lvm
check "num_hosts counts the members" "3" "$(cat "$C/num_hosts")"
check "num_down_hosts is 0 while all are up" "0" "$(cat "$C/num_down_hosts")"
check "the cluster is up" "true" "$(cat "$C/is_up")"
check "the cluster's workers are symlinks to workers/" "../../../workers/2" "$(readlink "$C/workers/2")"
check "a member link resolves to the worker" "n2@lvm" "$(cat "$C/workers/2/host")"
check "stuck/ has one directory per resource type" "snapshot volume" "$(ls "$M/stuck" | xargs)"

# In-flight operations, as a worker records them: two volumes and a
# snapshot owned by n3, one volume owned by n1 (alive), one nobody owns.
V1=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10
V2=1c8d6f49-3b70-4e5f-8b62-4d208e0f3c21
S1=2d9e7a5a-4c81-4f60-9c73-5e319f1a4d32
VA=3eaf8b6b-5d92-4071-8d84-6f42a02b5e43
VN=4fb09c7c-6ea3-4182-9e95-7053b13c6f54
NOW=$(db_time)
sql "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V1', 'deleting', 3, '$NOW', '$NOW'),
	('Volume', '$V2', 'creating', 3, '$NOW', '2026-11-25 12:00:00.000000'),
	('Snapshot', '$S1', 'creating', 3, '$NOW', '$NOW'),
	('Volume', '$VA', 'creating', 1, '$NOW', '$NOW'),
	('Volume', '$VN', 'creating', NULL, '$NOW', '$NOW');"
check "nothing is stuck while every owner is up" "" "$(ls "$M/stuck/volume")"

kill -KILL "${PIDS[n3]}"
wait "${PIDS[n3]}" 2>/dev/null
unset 'PIDS[n3]'
if wait_until 5 sh -c "! mountpoint -q '$(mnt n3)'"; then
	ok "a daemon killed with SIGKILL leaves no mount behind (auto_unmount)"
else
	not_ok "a daemon killed with SIGKILL leaves no mount behind (auto_unmount)"
fi
if wait_until $((DOWN + 3)) grep -qx false "$M/workers/3/is_up"; then
	ok "the killed worker's is_up turns false after service_down_time"
else
	not_ok "the killed worker's is_up turns false" "is_up: $(cat "$M/workers/3/is_up")"
fi
check "the live workers stay up" "true true" "$(cat "$M/workers/1/is_up" "$M/workers/2/is_up" | xargs)"
check "num_down_hosts counts the dead worker" "1" "$(cat "$C/num_down_hosts")"
check "the cluster stays up with live members" "true" "$(cat "$C/is_up")"

check "stuck/volume lists the dead worker's volumes only" "$(printf '%s\n' "$V1" "$V2" | sort | xargs)" \
	"$(ls "$M/stuck/volume" | xargs)"
check "stuck/snapshot lists its snapshot" "$S1" "$(ls "$M/stuck/snapshot")"
R=$M/stuck/volume/$V1
check "a stuck resource's value files" "cluster_name host info.json status updated_at worker_id" \
	"$(ls "$R" | xargs)"
check "stuck status" "deleting" "$(cat "$R/status")"
check "stuck worker_id" "3" "$(cat "$R/worker_id")"
check "stuck host" "n3@lvm" "$(cat "$R/host")"
check "stuck cluster_name" "c1@lvm" "$(cat "$R/cluster_name")"
check "times are ISO 8601 UTC" "2026-11-25T12:00:00Z" "$(cat "$M/stuck/volume/$V2/updated_at")"
check "info.json has the same values (jq)" "Volume $V1 deleting 3 n3@lvm c1@lvm" \
	"$(jq -r '[.resource_type, .resource_id, .status, .worker_id, .host, .cluster_name] | join(" ")' "$R/info.json")"
check "a worker's info.json (jq)" "3 n3@lvm cinder-volume c1@lvm false false 1.0" \
	"$(jq -r '[.id, .host, .binary, .cluster_name, .disabled, .is_up, .version] | join(" ")' "$M/workers/3/info.json")"
check "a cluster's info.json (jq)" "c1@lvm cinder-volume true false 3 1" \
	"$(jq -r '[.name, .binary, .is_up, .disabled, .num_hosts, .num_down_hosts] | join(" ")' "$C/info.json")"
sql "UPDATE services SET cluster_name = NULL WHERE id = 2;"
check "cluster_name of an unclustered worker is an empty line" "$(printf '\n' | od -c)" "$(od -c <"$M/workers/2/cluster_name")"
check "its info.json says null" "null" "$(jq -c .cluster_name "$M/workers/2/info.json")"
sql "UPDATE services SET cluster_name = 'c1@lvm' WHERE id = 2;"

# Sizes: st_size is the content's exact length, for every file.
bad=""
while IFS= read -r -d '' f; do
	size=$(stat -c %s "$f")
	len=$(wc -c <"$f")
	# is_up and updated_at may change between the two reads; re-read once.
	[ "$size" = "$len" ] || { size=$(stat -c %s "$f"); len=$(wc -c <"$f"); }
	[ "$size" = "$len" ] || bad="$bad $f($size!=$len)"
done < <(find "$M" -type f -print0)
check "stat size equals wc -c for every file (find)" "" "$bad"
check "every info.json parses (jq)" "0" \
	"$(find "$M" -name info.json -exec jq -e . {} + >/dev/null 2>&1; echo $?)"
check "mtime of a stuck resource is its updated_at" "$(date -u -d '2026-11-25 12:00:00' +%s)" \
	"$(stat -c %Y "$M/stuck/volume/$V2")"
check "ls -l shows the modes of read-only values" "-r--r-----" "$(stat -c %A "$M/workers/1/host")"
# A listing takes names at opendir and reads times when the kernel asks
# for attributes (readdirplus): those ls -l shows are exact all the same,
# past the first 256 entries too (read then in one scan).
check "ls -l shows a stuck resource's updated_at as its mtime" "$(date -u -d '2026-11-25 12:00:00' +%s)" \
	"$(ls -l --time-style=+%s "$M/stuck/volume" | awk -v id="$V2" '$NF == id { print $6 }')"
rows=
for i in $(seq 1 600); do
	rows="$rows${rows:+,}('Volume', '$(printf '5a000000-0000-4000-8000-%012d' "$i")', 'creating', 3, \
'2026-11-20 10:00:00', '2026-11-2$((i % 10)) 10:$(printf %02d $((i % 60))):00')"
done
sql "INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES $rows;"
bad=
while read -r mtime id; do
	case $id in 5a000000-*) ;; *) continue ;; esac
	i=$((10#${id##*-}))
	want=$(date -u -d "2026-11-2$((i % 10)) 10:$(printf %02d $((i % 60))):00" +%s)
	[ "$mtime" = "$want" ] || bad="$bad $id($mtime!=$want)"
done < <(ls -l --time-style=+%s "$M/stuck/volume" | awk 'NF > 2 { print $6, $NF }')
check "ls -l of 600 more stuck resources shows each one's exact mtime" "" "$bad"
check "ls -l lists every one of them" "600" "$(ls -l "$M/stuck/volume" | grep -c ' 5a000000-')"
sql "DELETE FROM workers WHERE resource_id LIKE '5a000000-%';"
COPY=$TEST_ROOT/copy
mkdir "$COPY"
cp "$R/info.json" "$COPY/info.json"
check "cp copies the exact content" "$(cat "$R/info.json")" "$(cat "$COPY/info.json")"
check "cp adds no padding" "$(wc -c <"$R/info.json")" "$(stat -c %s "$COPY/info.json")"
# A live worker's directory takes its heartbeat's time as mtime, so tar
# may see one change while it reads (exit 1, "file changed as we read
# it"): that, and only that, is no failure.
tar_out=$(tar -C "$M" -cf "$COPY/mount.tar" . 2>&1) && tar_rc=0 || tar_rc=$?
tar_other=$(printf '%s\n' "$tar_out" | grep -v '^tar: \./workers/[0-9]*: file changed as we read it$' |
	grep -v '^$' || true)
check "tar archives the whole mount" "0" \
	"$([ "$tar_rc" -eq 0 ] || { [ "$tar_rc" -eq 1 ] && [ -z "$tar_other" ]; } && echo 0 ||
	   echo "exit $tar_rc: $tar_out")"
check "tar's copy of a value file matches" "deleting" \
	"$(tar -xOf "$COPY/mount.tar" "./stuck/volume/$V1/status")"
check "the README says what the mount is" "1" "$(grep -c '^cinderfs: ' "$M/README")"

# A change made through the shared database (by another daemon, or by an
# operator with sqlite3 or psql) shows within one second, removals included.
sql "DELETE FROM workers WHERE resource_id = '$V2';"
t=$(elapsed_ms sh -c "! ls '$M/stuck/volume' | grep -q $V2")
check "a removed stuck resource leaves the listing within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"
t=$(elapsed_ms sh -c "! stat '$M/stuck/volume/$V2' 2>/dev/null")
check "a removed stuck resource cannot be stat'ed within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"
sql "UPDATE workers SET updated_at = '2026-11-26 08:00:00.000000' WHERE resource_id = '$V1';"
want=$(date -u -d '2026-11-26 08:00:00' +%s)
t=$(elapsed_ms sh -c "ls -l --time-style=+%s '$M/stuck/volume' | grep -q ' $want $V1\$'")
check "a changed updated_at shows in ls -l within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"
sql "UPDATE workers SET status = 'downloading' WHERE resource_id = '$V1';"
t=$(elapsed_ms grep -qx downloading "$R/status")
check "a changed status shows within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"
sql "UPDATE workers SET service_id = 3 WHERE resource_id = '$VA';"
t=$(elapsed_ms sh -c "ls '$M/stuck/volume' | grep -q $VA")
check "a new stuck resource shows within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"
check "the other daemon's mount shows the same" "$(ls "$M/stuck/volume" | xargs)" "$(ls "$(mnt n2)/stuck/volume" | xargs)"

# The read-only half refuses writes; unknown paths are ENOENT.
check_fails "writing a value file is refused" "Permission denied" sh -c "echo x > '$M/workers/1/host'"
check_fails "appending to a value file is refused" "Permission denied" sh -c "echo x >> '$M/workers/1/host'"
check_fails "creating a file is refused" "Permission denied" touch "$M/stuck/volume/new"
check_fails "mkdir is refused" "Permission denied" mkdir "$M/workers/99"
check_fails "rm is refused" "Permission denied" rm -f "$M/README"
check_fails "rmdir is refused" "Permission denied" rmdir "$R"
check_fails "mv is refused" "Permission denied" mv "$M/README" "$M/README2"
check_fails "chmod to another mode is refused" "Operation not permitted" chmod 777 "$M/workers/1/host"
check_cmd "chmod to the mode it has succeeds (nothing changes)" chmod 0440 "$M/workers/1/host"
check_fails "new times are refused" "Operation not permitted" touch -c -d 2001-01-01 "$M/workers/1/host"
check_cmd "the times it has succeed (nothing changes)" touch -c -r "$M/workers/1/host" "$M/workers/1/host"
check_fails "truncate is refused" "Permission denied" truncate -s 0 "$M/workers/1/host"
check_fails "an unknown file is ENOENT" "No such file or directory" cat "$M/nothing"
check_fails "an unknown worker is ENOENT" "No such file or directory" ls "$M/workers/999"
check_fails "an unknown cluster is ENOENT" "No such file or directory" ls "$M/clusters/c9@lvm"
check_fails "a worker not in the cluster is not a member" "No such file or directory" \
	stat "$C/workers/999"
check_fails "a resource that is not stuck is ENOENT" "No such file or directory" \
	ls "$M/stuck/volume/$VN"
check_fails "a value file is not a directory" "Not a directory" ls "$M/workers/1/host/x"

# Volumes and snapshots, each with its worker (by its host, '#pool' and all).
VOL=5ac1d2e3-7f40-4b51-8c62-9d73e4f50617
SNP=6bd2e3f4-8051-4c62-9d73-ae84f5061728
sql "INSERT INTO volumes (id, display_name, size, status, host, provider_location, deleted, created_at, updated_at)
	VALUES ('$VOL', 'db1', 10, 'available', 'n2@lvm#lvm', '127.0.0.1:3260,1 iqn.2010-10.org.openstack:volume-$VOL 1',
	        0, '2026-11-25 11:00:00', '2026-11-25 11:30:00');
	INSERT INTO snapshots (id, display_name, volume_id, volume_size, status, deleted, created_at)
	VALUES ('$SNP', 'db1-snap', '$VOL', 10, 'available', 0, '2026-11-25 11:40:00');"
check "volumes/ lists the volume and its control files" "$VOL create error" "$(ls "$M/volumes" | xargs)"
check "a volume's value files" "connection info.json last_error name previous_status provider_location size status status_reset_at status_reset_by target_iqn worker_id" \
	"$(ls "$M/volumes/$VOL" | xargs)"
check "a volume's values" "db1 10 available 2" \
	"$(cat "$M/volumes/$VOL/name" "$M/volumes/$VOL/size" "$M/volumes/$VOL/status" "$M/volumes/$VOL/worker_id" | xargs)"
check "its target IQN comes from provider_location" "iqn.2010-10.org.openstack:volume-$VOL" \
	"$(cat "$M/volumes/$VOL/target_iqn")"
check "a snapshot's volume_id and size (jq)" "$VOL 10 2" \
	"$(jq -r '[.volume_id, .size, .worker_id] | join(" ")' "$M/snapshots/$SNP/info.json")"
sql "UPDATE volumes SET deleted = 1 WHERE id = '$VOL'"
t=$(elapsed_ms sh -c "! ls '$M/volumes' | grep -q $VOL")
check "a deleted volume leaves volumes/ within 1 s" "yes" "$([ "$t" != timeout ] && [ "$t" -le 1000 ] && echo yes || echo "no ($t ms)")"

# --control-only mounts the same view without registering a worker.
start_daemon admin --control-only --service-down-time "$DOWN" --report-interval 1
check "a control-only daemon registers no worker" "3" "$(sql 'SELECT count(*) FROM services')"
check "a control-only daemon shows the same workers" "error 1 2 3" "$(ls "$(mnt admin)/workers" | sort -n | xargs)"
check "a control-only daemon shows the stuck resources" "$(ls "$M/stuck/volume" | xargs)" \
	"$(ls "$(mnt admin)/stuck/volume" | xargs)"
true
