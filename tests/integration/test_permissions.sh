#!/usr/bin/env bash
# Who may do what: root and the admin group read and write the mount;
# anyone else gets EACCES from the kernel (default_permissions and the
# modes). The test makes its own user and group, and removes them at exit.
. "$(dirname "$0")/lib.sh"
for tool in useradd groupadd runuser; do
	command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed"; exit 1; }
done

suffix=$(basename "$TEST_ROOT" | tr -dc 'a-z0-9' | tail -c 8)
GROUP=cfsadm$suffix
USER_PLAIN=cfsusr$suffix
USER_ADMIN=cfsadm${suffix}u
groupadd "$GROUP"
on_exit groupdel "$GROUP"
useradd -M -N -s /usr/sbin/nologin "$USER_PLAIN"
on_exit userdel "$USER_PLAIN"
useradd -M -N -s /usr/sbin/nologin -G "$GROUP" "$USER_ADMIN"
on_exit userdel "$USER_ADMIN"
chmod 755 "$TEST_ROOT" # let the test users reach the mountpoint itself

start_worker w --admin-group "$GROUP" --service-down-time 5 --report-interval 1
M=$(mnt w)
as() { local who=$1; shift; runuser -u "$who" -- "$@"; }

check "the mount belongs to root and the admin group" "root $GROUP dr-xr-x---" \
	"$(stat -c '%U %G %A' "$M")"
check "cleanup/request is writable by the group" "-rw-rw----" "$(stat -c %A "$M/cleanup/request")"
check_fails "another user cannot list the mount" "Permission denied" as "$USER_PLAIN" ls "$M"
check_fails "another user cannot read a value" "Permission denied" as "$USER_PLAIN" cat "$M/workers/1/host"
check_fails "another user cannot request a cleanup" "Permission denied" \
	as "$USER_PLAIN" bash -c "echo > '$M/cleanup/request'"
check "so nothing was requested" "0" "$(sql 'SELECT count(*) FROM cleanup_requests')"
check "an admin-group member lists the mount" "README cleanup clusters snapshots stuck volumes workers" \
	"$(as "$USER_ADMIN" ls "$M" | xargs)"
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
true
