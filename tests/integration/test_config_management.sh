#!/usr/bin/env bash
# Config management against a real mount: the real Ansible from Debian's
# ansible-core replaces cleanup/request with its copy module; Puppet's,
# Salt's and Chef's system-call sequences (cm_replace.py) do the same; the
# scratch area of cleanup/ keeps its limits, and forgets everything at a
# restart.
. "$(dirname "$0")/lib.sh"
command -v ansible >/dev/null || { echo "FAIL: ansible (ansible-core) is not installed"; exit 1; }
CM="python3 $(dirname "$0")/cm_replace.py"

OPTS=(--service-down-time 3 --report-interval 1 --cluster c1@lvm)
start_worker n1 "${OPTS[@]}"
M=$(mnt n1)
R=$M/cleanup/request
requests() { sql 'SELECT count(*) FROM cleanup_requests'; }

# Ansible with nothing of its own outside the test's directory.
mkdir -p "$TEST_ROOT/ansible"
: >"$TEST_ROOT/ansible/ansible.cfg"
export ANSIBLE_CONFIG=$TEST_ROOT/ansible/ansible.cfg ANSIBLE_HOME=$TEST_ROOT/ansible \
	ANSIBLE_LOCAL_TEMP=$TEST_ROOT/ansible/local ANSIBLE_REMOTE_TEMP=$TEST_ROOT/ansible/remote \
	ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0
copy() {
	ansible localhost -i localhost, -c local -m copy \
		-a "$(jq -cn --arg c "$1" --arg d "$R" '{content: $c, dest: $d}')" 2>&1
}

spec='cluster_name=c1@lvm
'
out=$(copy "$spec"); rc=$?
log "first run:"; printf '#   %s\n' "$(echo "$out" | grep -E 'CHANGED|SUCCESS|FAILED|"changed"')"
check "the first Ansible run succeeds" "0" "$rc"
check "and reports changed" "yes" "$(echo "$out" | grep -q '| CHANGED =>' && echo yes || echo "no: $out")"
check "and triggered one cleanup" "1" "$(requests)"
check "request reads back the bytes Ansible wrote" "same" "$(printf %s "$spec" | cmp - "$R" && echo same)"
check "the request is in history with its result" '{"cleaning":[],"unavailable":[]}' \
	"$(jq -c . "$M/cleanup/history/1/result")"
check "the temporary file is gone" "" "$(ls -A "$M/cleanup" | grep -v -x -e request -e result -e error -e history -e preview)"
check "request keeps its owner and mode" "root root -rw-rw----" "$(stat -c '%U %G %A' "$R")"

out=$(copy "$spec"); rc=$?
log "second run:"; printf '#   %s\n' "$(echo "$out" | grep -E 'CHANGED|SUCCESS|FAILED|"changed"')"
check "the second run succeeds" "0" "$rc"
check "and reports ok (no change)" "yes" "$(echo "$out" | grep -q '| SUCCESS =>' && echo yes || echo "no: $out")"
check "and triggers nothing" "1" "$(requests)"

out=$(copy 'bogus=1'); rc=$?
log "bad spec:"; printf '#   %s\n' "$(echo "$out" | grep -E 'FAILED|"msg"')"
check "a bad spec fails the task" "yes" "$([ "$rc" != 0 ] && echo "$out" | grep -q '| FAILED!' && echo yes || echo "no (rc $rc): $out")"
check "with the errno of the refused rename" "yes" \
	"$(echo "$out" | grep -q 'failed final rename.*Invalid argument' && echo yes || echo "no: $out")"
check "and cleanup/error saying why" "Invalid filter keys: bogus" "$(cat "$M/cleanup/error")"
check "nothing was triggered" "1" "$(requests)"
check "request still reads the last accepted spec" "same" "$(printf %s "$spec" | cmp - "$R" && echo same)"
check "the temporary file was consumed all the same" "" \
	"$(ls -A "$M/cleanup" | grep -v -x -e request -e result -e error -e history -e preview)"

# With validate=, the task fails before the rename, with the words.
out=$(ansible localhost -i localhost, -c local -m copy -a "$(jq -cn --arg d "$R" --arg v "$CINDERFS --check-spec %s" \
	'{content: "is_up=maybe", dest: $d, validate: $v}')" 2>&1); rc=$?
log "bad spec with validate=:"; printf '#   %s\n' "$(echo "$out" | grep -E 'FAILED|"msg"|stderr"')"
check "with validate=, a bad spec fails the task with Cinder's words" "yes" \
	"$([ "$rc" != 0 ] && echo "$out" | grep -q 'failed to validate' &&
	   echo "$out" | grep -q 'Value maybe for is_up is not a boolean.' && echo yes || echo "no (rc $rc): $out")"
check "and never reached the mount" "1" "$(requests)"
out=$(ansible localhost -i localhost, -c local -m copy -a "$(jq -cn --arg d "$R" --arg v "$CINDERFS --check-spec %s" \
	'{content: "is_up=false", dest: $d, validate: $v}')" 2>&1); rc=$?
check "with validate=, a good spec goes through: changed" "0 yes" "$rc $(echo "$out" | grep -q '| CHANGED =>' && echo yes)"
check "and a second cleanup" "2" "$(requests)"
out=$(copy 'is_up=false'); rc=$?
check "the same content without validate=: ok" "0 yes" "$rc $(echo "$out" | grep -q '| SUCCESS =>' && echo yes)"
check "and nothing new" "2" "$(requests)"

# Puppet, Salt and Chef: the same system calls those tools make. A
# refused rename fails the run with rename's errno (Salt's shutil.move then
# tries to copy the temporary file, which rename consumed: ENOENT), and
# cleanup/error has the reason.
declare -A refused=([puppet]=EINVAL [salt]=ENOENT [chef]=EINVAL)
for tool in puppet salt chef; do
	before=$(requests)
	out=$($CM $tool "$R" "host=n1@lvm is_up=$tool")
	check "$tool: a bad spec fails the run" "yes" \
		"$([[ $out == "error: ${refused[$tool]}:"* ]] && echo yes || echo "no: $out")"
	check "$tool: with Cinder's words in cleanup/error" "Value $tool for is_up is not a boolean." \
		"$(cat "$M/cleanup/error")"
	check "$tool: and triggers nothing" "$before" "$(requests)"
	check "$tool: a good spec changes request" "changed" "$($CM $tool "$R" "host=$tool@lvm is_up=true")"
	check "$tool: and triggers one cleanup" "$((before + 1))" "$(requests)"
	check "$tool: request reads it back" "host=$tool@lvm is_up=true" "$(cat "$R")"
	check "$tool: the second run changes nothing" "ok" "$($CM $tool "$R" "host=$tool@lvm is_up=true")"
	check "$tool: and triggers nothing" "$((before + 1))" "$(requests)"
	check "$tool: no temporary file or lock is left" "" \
		"$(ls -A "$M/cleanup" | grep -v -x -e request -e result -e error -e history -e preview)"
done
check "request keeps its owner and mode through them all" "root root -rw-rw----" "$(stat -c '%U %G %A' "$R")"

# Owner, mode and times of the mount's own files: no change is fine.
check_cmd "chown to the owner it has succeeds" chown root:root "$R"
check_cmd "chmod to the mode it has succeeds" chmod 0660 "$R"
check_fails "chmod to another mode is refused" "Operation not permitted" chmod 0644 "$R"
check "with the reason in cleanup/error" "yes" \
	"$(grep -q 'keep their owner (root:0), mode (0660)' "$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
check_fails "chown to another owner is refused" "Operation not permitted" chown nobody "$R"
check "request is as it was" "root root -rw-rw----" "$(stat -c '%U %G %A' "$R")"

# The scratch area: files and lock directories, in memory, with limits.
T=$M/cleanup/.request.tmp
umask 022
before=$(requests)
printf 'is_up=true' >"$T"
check "a temporary file is listed" ".request.tmp" "$(ls -A "$M/cleanup" | grep tmp)"
check "it reads back" "is_up=true" "$(cat "$T")"
check "it belongs to whoever made it, 0644 under umask 022" "root root -rw-r--r-- 10" \
	"$(stat -c '%U %G %A %s' "$T")"
check_cmd "it takes chmod" chmod 0600 "$T"
check_cmd "and utimens" touch -d 2001-01-01 "$T"
check "which stick" "-rw------- 2001-01-01" "$(stat -c '%A %y' "$T" | cut -c1-21)"
check_cmd "it can be renamed within cleanup/" mv "$T" "$M/cleanup/request.new"
check_cmd "and removed" rm "$M/cleanup/request.new"
check "it is gone" "" "$(ls -A "$M/cleanup" | grep -v -x -e request -e result -e error -e history -e preview)"
check "temporary files never reach the database" "$before" "$(requests)"
check_cmd "a lock directory can be made" mkdir "$M/cleanup/request.lock"
check "and is listed as a directory" "drwxr-xr-x" "$(stat -c %A "$M/cleanup/request.lock")"
check_fails "nothing can be made inside it" "Permission denied" touch "$M/cleanup/request.lock/x"
check_cmd "and it can be removed" rmdir "$M/cleanup/request.lock"
check_fails "a name without 'request' is refused" "Permission denied" bash -c "echo x > '$M/cleanup/reqeust'"
check "with the reason" "yes" "$(grep -q 'must have "request" in its name' "$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
check_fails "a temporary file over 64 KiB is EFBIG" "File too large" \
	dd if=/dev/zero of="$M/cleanup/request.big" bs=65537 count=1 status=none
check "with the reason" "yes" "$(grep -q 'at most 65536 bytes' "$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
rm -f "$M/cleanup/request.big"
check_fails "a control file cannot be renamed" "Permission denied" mv "$M/cleanup/result" "$M/cleanup/result.request"
check_fails "a temporary file cannot replace another control file" "Permission denied" \
	bash -c "echo x > '$M/cleanup/x.request' && mv '$M/cleanup/x.request' '$M/cleanup/result'"
rm -f "$M/cleanup/x.request"

stop_daemon n1 TERM
start_worker n1 "${OPTS[@]}" --temp-files 3
for i in 1 2 3; do echo "$i" >"$M/cleanup/request.$i"; done
check_fails "beyond --temp-files: ENOSPC" "No space left on device" bash -c "echo 4 > '$M/cleanup/request.4'"
check "with the limit named" "yes" "$(grep -q 'cleanup_temp_files' "$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
check_fails "a lock directory counts too" "No space left on device" mkdir "$M/cleanup/request.lock"
stop_daemon n1 TERM
check "the daemon stopped cleanly" "0" "$STOP_RC"
start_worker n1 "${OPTS[@]}"
check "a restart forgets every temporary file" "error history preview request result" "$(ls -A "$M/cleanup" | xargs)"
check "and request still reads the last accepted spec" "host=chef@lvm is_up=true" "$(cat "$R")"

# The README's playbook (doc/examples/cleanup-and-wait.yml): a preview
# decides, then the request's own number, read back on the fd that wrote
# it, is waited for. A dead worker with one stuck volume.
AGO=$(db_time '-1 hour')
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm'")
DEAD=$(sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
	disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
	VALUES ('$AGO', '$AGO', 0, 'd9@lvm', 'cinder-volume', 'cinder-volume', 0, 0, 'nova', '$VER', '$VER',
	'c1@lvm') RETURNING id")
VD=dddddddd-0000-4000-8000-000000000001
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$VD', 'creating', 'detached', 1, 'd9@lvm', 0, '$AGO');
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$VD', 'creating', $DEAD, '$AGO', '$AGO')"
PLAY=$(dirname "$0")/../../doc/examples/cleanup-and-wait.yml
playbook() {
	ansible-playbook -i localhost, -c local -e "cinderfs_mount=$M" -e "cleanup_spec=$1" "$PLAY" 2>&1
}
before=$(requests)
out=$(playbook "host=d9@lvm"); rc=$?
check "the example playbook runs" "0" "$rc"
check "it made one request" "$((before + 1))" "$(requests)"
check "and waited for that one: its work is done" "error" "$(sql "SELECT status FROM volumes WHERE id = '$VD'")"
check "it names its own request" "yes" \
	"$(echo "$out" | grep -q "cleanup request $((before + 1)) done" && echo yes || echo "no: $out")"
out=$(playbook "host=d9@lvm"); rc=$?
check "a second run: the preview finds nothing to act on, so no request" "0 $((before + 1))" "$rc $(requests)"
out=$(playbook "hots=d9@lvm"); rc=$?
check "a bad spec fails the play at the preview, with Cinder's words" "yes 2 $((before + 1))" \
	"$(echo "$out" | grep -q 'Invalid filter keys: hots' && echo yes || echo no) $rc $(requests)"
