#!/usr/bin/env bash
# Who may do what: root and the admin group read and write the mount, and
# remove volumes, snapshots and retired workers; anyone else gets EACCES
# from the kernel (default_permissions and the modes). The test makes its own user and group, and removes them at exit.
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

make_test_users adm

start_worker w --admin-group "$GROUP" --service-down-time 5 --report-interval 1
M=$(mnt w)

check "the mount belongs to root and the admin group" "root $GROUP dr-xr-x---" \
	"$(stat -c '%U %G %A' "$M")"
check "cleanup/request is writable by the group" "-rw-rw----" "$(stat -c %A "$M/cleanup/request")"
check_fails "another user cannot list the mount" "Permission denied" as "$USER_PLAIN" ls "$M"
check_fails "another user cannot read a value" "Permission denied" as "$USER_PLAIN" cat "$M/workers/1/host"
check_fails "another user cannot request a cleanup" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo > '$M/cleanup/request'"
check "so nothing was requested" "0" "$(sql 'SELECT count(*) FROM cleanup_requests')"
check "an admin-group member lists the mount" "README cleanup clusters metrics snapshots status stuck volumes workers" \
	"$(as "$USER_ADMIN" ls "$M" | xargs)"
check_fails "another user cannot read the metrics" "Permission denied" as "$USER_PLAIN" cat "$M/metrics"
check_fails "nor the status" "Permission denied" as "$USER_PLAIN" cat "$M/status"
check "metrics and status are the mount's read-only files" "-r--r----- -r--r-----" \
	"$(stat -c %A "$M/metrics" "$M/status" | xargs)"
check "an admin-group member reads both" "yes yes" \
	"$(as "$USER_ADMIN" grep -q '^# TYPE cinderfs_workers gauge$' "$M/metrics" && echo yes) $(as "$USER_ADMIN" grep -q '^workers: ' "$M/status" && echo yes)"
check "an admin-group member reads values" "w@lvm" "$(as "$USER_ADMIN" cat "$M/workers/1/host")"
check_cmd "an admin-group member requests a cleanup" as "$USER_ADMIN" bash -c "echo > '$M/cleanup/request'"
check "the request records who asked" "$(id -u "$USER_ADMIN")" \
	"$(jq .requested_by.uid "$M/cleanup/history/00000001/progress.json")"
check_fails "an admin-group member still cannot write a value file" "Permission denied" \
	as "$USER_ADMIN" bash -c "echo x > '$M/workers/1/host'"


# Config management as these users: temporary files in cleanup/ need the
# directory's group write bit, so only the admin group has them.
check "cleanup/ is writable by root and the admin group only" "drwxrwx---" "$(stat -c %A "$M/cleanup")"
check_fails "another user cannot make a temporary file" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo x > '$M/cleanup/request.tmp'"
check_cmd "an admin-group member replaces request by rename, as Ansible does" \
	as "$USER_ADMIN" bash -c "printf 'is_up=true' > '$M/cleanup/.request.tmp' && mv '$M/cleanup/.request.tmp' '$M/cleanup/request'"
check "that made request 2, recorded as that user's" "$(id -u "$USER_ADMIN") is_up=true" \
	"$(jq .requested_by.uid "$M/cleanup/history/00000002/progress.json") $(cat "$M/cleanup/history/2/request")"
check_fails "an admin-group member cannot chown request (the kernel's rule)" "Operation not permitted" \
	as "$USER_ADMIN" chown "$USER_ADMIN" "$M/cleanup/request"
check_fails "another user cannot wait on a request" "Permission denied" \
	as "$USER_PLAIN" cat "$M/cleanup/history/1/wait"
check "an admin-group member can" "done" "$(as "$USER_ADMIN" jq -r .state "$M/cleanup/history/1/wait")"

# Volumes, snapshots and retired workers: the admin group does all root
# does, rmdir included (the kernel wants write permission on the parent);
# anyone else gets EACCES from the kernel, and nothing changes. The worker
# has no volume group, so its volumes are seeded by SQL on its host; it
# deletes them (and makes snapshots) in the database only.
check "volumes/, snapshots/ and workers/ are writable by root and the admin group only" \
	"drwxrwx--- drwxrwx--- drwxrwx---" "$(stat -c %A "$M/volumes" "$M/snapshots" "$M/workers" | xargs)"
V1=3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f
V2=4a2d3e5f-6b7c-4d8e-9fa0-1b2c3d4e5f60
NOW=$(db_time)
sql "INSERT INTO volumes (id, display_name, size, status, attach_status, host, deleted, created_at, updated_at)
	VALUES ('$V1', 'v1', 1, 'available', 'detached', 'w@lvm', 0, '$NOW', '$NOW'),
	       ('$V2', 'v2', 1, 'available', 'detached', 'w@lvm', 0, '$NOW', '$NOW');
	INSERT INTO services (id, host, \"binary\", created_at, updated_at, rpc_current_version)
	VALUES (9, 'old@lvm', 'cinder-volume', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '0.9');"
volume_row() { sql "SELECT status || ' ' || deleted FROM volumes WHERE id = '$1'"; }
snapshot_row() { sql "SELECT status || ' ' || deleted FROM snapshots WHERE id = '$1'"; }

check_fails "an admin-group member's volumes/create reaches the daemon: EROFS, not EACCES" \
	"Read-only file system" as "$USER_ADMIN" bash -c "echo 'name=v3 size=1' > '$M/volumes/create'"
VOLUMES_ERROR=$(cat "$M/volumes/error")
check "volumes/error says why" "yes" \
	"$([[ "$VOLUMES_ERROR" == "This daemon keeps no volumes (no volume_group configured)"* ]] && echo yes || echo "$VOLUMES_ERROR")"
check_fails "another user cannot write volumes/create" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo 'name=v3 size=1' > '$M/volumes/create'"
check_fails "another user cannot rmdir a volume" "Permission denied" as "$USER_PLAIN" rmdir "$M/volumes/$V1"
check "so the volume is untouched, nothing was added" "available 0 2" "$(volume_row "$V1") $(sql 'SELECT count(*) FROM volumes')"
check "and volumes/error still holds the last refusal the daemon saw" "$VOLUMES_ERROR" "$(cat "$M/volumes/error")"
check_cmd "an admin-group member removes a volume with rmdir" as "$USER_ADMIN" rmdir "$M/volumes/$V1"
check "it is deleting, or already deleted by its worker" "yes" \
	"$(case "$(volume_row "$V1")" in "deleting 0" | "deleted 1") echo yes ;; *) volume_row "$V1" ;; esac)"
deleted() { [ "$("${1}_row" "$2")" = "deleted 1" ]; }
if wait_until 10 deleted volume "$V1"; then ok "the worker deletes it"; else
	not_ok "the worker deletes it" "row: $(volume_row "$V1")"; fi
check "an accepted rmdir empties volumes/error" "" "$(cat "$M/volumes/error")"

check_cmd "an admin-group member writes snapshots/create" \
	as "$USER_ADMIN" bash -c "echo 'volume_id=$V2 name=s1' > '$M/snapshots/create'"
S1=$(sql "SELECT id FROM snapshots WHERE display_name = 's1'")
snapshot_ready() { [ "$(snapshot_row "$S1")" = "available 0" ]; }
if wait_until 10 snapshot_ready; then ok "the worker makes it"; else
	not_ok "the worker makes it" "row: $(snapshot_row "$S1")"; fi
check_fails "another user cannot write snapshots/create" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo 'volume_id=$V2 name=s2' > '$M/snapshots/create'"
check_fails "another user cannot rmdir a snapshot" "Permission denied" as "$USER_PLAIN" rmdir "$M/snapshots/$S1"
check "so there is one snapshot, untouched" "1 available 0" \
	"$(sql 'SELECT count(*) FROM snapshots') $(snapshot_row "$S1")"
check_cmd "an admin-group member removes a snapshot with rmdir" as "$USER_ADMIN" rmdir "$M/snapshots/$S1"
if wait_until 10 deleted snapshot "$S1"; then ok "the worker deletes it"; else
	not_ok "the worker deletes it" "row: $(snapshot_row "$S1")"; fi

check_fails "another user cannot rmdir a retired worker" "Permission denied" as "$USER_PLAIN" rmdir "$M/workers/9"
check "so its row stays" "0" "$(sql 'SELECT deleted FROM services WHERE id = 9')"
check_cmd "an admin-group member removes a retired worker with rmdir" as "$USER_ADMIN" rmdir "$M/workers/9"
check "its row is soft-deleted" "1" "$(sql 'SELECT deleted FROM services WHERE id = 9')"

# What else reaches the daemon through those directories is refused with
# EACCES, and each refusal's words replace the last in the directory's
# error file: an open's (root passes the kernel's check of the file's
# mode), a create's, a rename's, an unlink's.
check_fails "root cannot open a volume's value file for writing" "Permission denied" \
	bash -c "exec 3>>'$M/volumes/$V2/name'"
check "volumes/error says why" \
	"open volumes/$V2/name for writing: it is read-only; only cleanup/request, cleanup/preview, volumes/create, snapshots/create and the admin actions' files (README: Admin actions) take writes" \
	"$(cat "$M/volumes/error")"
check_fails "an admin-group member cannot mkdir in volumes/" "Permission denied" \
	as "$USER_ADMIN" mkdir "$M/volumes/v3"
check "volumes/error says how volumes are made" \
	"mkdir volumes/v3: volumes are made by writing a spec such as 'name=db1 size=10G' to volumes/create" \
	"$(cat "$M/volumes/error")"
check_fails "an admin-group member cannot rename volumes/create" "Permission denied" \
	as "$USER_ADMIN" mv "$M/volumes/create" "$M/volumes/create2"
check "volumes/error says why" "rename volumes/create: the mount's own files keep their names" \
	"$(cat "$M/volumes/error")"
check_fails "an admin-group member cannot remove snapshots/create" "Permission denied" \
	as "$USER_ADMIN" rm -f "$M/snapshots/create"
check "snapshots/error says why" \
	"unlink snapshots/create: the mount's own files cannot be removed; only the temporary files in cleanup/ can" \
	"$(cat "$M/snapshots/error")"
check "and volumes/error kept its own last refusal" "rename volumes/create: the mount's own files keep their names" \
	"$(cat "$M/volumes/error")"
true
