#!/usr/bin/env bash
# Converge, don't fire and forget: cleanup/request reads back the last
# accepted spec byte for byte only while applying it now would reach
# nothing; while it would, a note line follows the spec, so the real
# Ansible (ansible-playbook, copy with content:) and the real Puppet
# (puppet apply, a file resource with content) see a difference, write the
# spec again and clean what is newly stuck. What a read gives, written back,
# is the same spec (words and JSON); stat gives the size of what read gives.
. "$(dirname "$0")/lib.sh"
command -v ansible-playbook >/dev/null || { echo "FAIL: ansible-playbook (ansible-core) is not installed"; exit 1; }
command -v puppet >/dev/null || { echo "FAIL: puppet is not installed (tools/install-deps)"; exit 1; }

OPTS=(--service-down-time 3 --report-interval 1 --cluster c1@lvm)
start_worker n1 "${OPTS[@]}"
M=$(mnt n1)
R=$M/cleanup/request
requests() { sql 'SELECT count(*) FROM cleanup_requests'; }
NOTE_PREFIX='# cinderfs: '
# Ansible with nothing of its own outside the test's directory.
mkdir -p "$TEST_ROOT/ansible"
: >"$TEST_ROOT/ansible/ansible.cfg"
export ANSIBLE_CONFIG=$TEST_ROOT/ansible/ansible.cfg ANSIBLE_HOME=$TEST_ROOT/ansible \
	ANSIBLE_LOCAL_TEMP=$TEST_ROOT/ansible/local ANSIBLE_REMOTE_TEMP=$TEST_ROOT/ansible/remote \
	ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_LOCALHOST_WARNING=0

# node6 of c1 with an operation in flight, killed and left down: its row
# is stuck. Each call is a new volume in 'creating' (n: its number).
node6_dies_with() {
	local v
	v=$(printf 'cccccccc-0000-4000-8000-%012d' "$1")
	start_worker node6 "${OPTS[@]}"
	local id
	id=$(sql "SELECT id FROM services WHERE host = 'node6@lvm' AND deleted = 0")
	sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
		('$v', 'creating', 'detached', 1, 'node6@lvm#pool', 0, '$(db_time)');
	     INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
		VALUES ('Volume', '$v', 'creating', $id, '$(db_time)', '$(db_time)')"
	stop_daemon node6 KILL
	umount -l "$(mnt node6)" 2>/dev/null
	wait_until 15 sh -c "ls '$M/stuck/volume' | grep -q '$v'" ||
		{ echo "FAIL: node6's volume $v is not listed as stuck"; exit 1; }
	# The mount counts what a spec reaches at most once a second.
	sleep 1.2
	echo "$v"
}
status_of() { sql "SELECT status FROM volumes WHERE id = '$1'"; }
# The newest request has ended (its wait returns), or FAIL.
ended() { timeout 30 cat "$M/cleanup/history/latest/wait" >/dev/null; }
size_is_read() {
	local s n
	s=$(stat -c %s "$R"); n=$(wc -c <"$R")
	[ "$s" = "$n" ] && echo same || echo "stat $s, read $n"
}

# ---- The read ----
V1=$(node6_dies_with 1)
spec='host=node6@lvm
'
check "before any request, request reads empty" "0" "$(wc -c <"$R")"
printf %s "$spec" >"$R"
ended
check "the first write cleans node6's volume" "error" "$(status_of "$V1")"
sleep 1.2
check "with nothing left to reach, request reads the spec byte for byte" "same" \
	"$(printf %s "$spec" | cmp - "$R" && echo same)"
check "and stat gives its size" "same" "$(size_is_read)"

V2=$(node6_dies_with 2)
want="${spec}${NOTE_PREFIX}would reach 1 resource now; writing this spec again cleans it"
check "a newly stuck volume of node6: the spec and a note" "$want" "$(cat "$R")"
check "stat gives the size with the note" "same" "$(size_is_read)"
check "a spec that selects someone else reads back as it is" "same" \
	"$(printf 'host=n1@lvm' >"$R" && ended && sleep 1.2 && printf 'host=n1@lvm' | cmp - "$R" && echo same)"
check "and node6's volume was not touched" "creating" "$(status_of "$V2")"

# What a read gives, written back, is the same spec, with its note, in
# both forms; a note alone is the empty spec, as the read of one shows it.
before=$(requests)
printf '%s' "$spec" >"$R"; ended; sleep 1.2
V3=$(node6_dies_with 3)
cat "$R" >"$TEST_ROOT/readback"
check "the read has the note" "yes" "$(grep -q "^$NOTE_PREFIX" "$TEST_ROOT/readback" && echo yes)"
check_cmd "the read, written back, is accepted" cp "$TEST_ROOT/readback" "$R"
ended
check "and cleans as the spec" "error" "$(status_of "$V3")"
check "its filter is the spec's" '"node6@lvm"' \
	"$(sql "SELECT filter FROM cleanup_requests ORDER BY id DESC LIMIT 1" | jq -c .host)"
check "two requests more" "$((before + 2))" "$(requests)"
sleep 1.2
check "the spec accepted is what was written, note included" "same" \
	"$(cmp "$TEST_ROOT/readback" "$R" && echo same)"

json='{"host": "node6@lvm"}'
printf '%s' "$json" >"$R"; ended
V4=$(node6_dies_with 4)
check "a JSON spec: the spec, then the note on a line of its own" \
	"$json
${NOTE_PREFIX}would reach 1 resource now; writing this spec again cleans it" "$(cat "$R")"
check "stat gives its size" "same" "$(size_is_read)"
cat "$R" >"$TEST_ROOT/readback"
check_cmd "the JSON read, written back, is accepted" cp "$TEST_ROOT/readback" "$R"
ended
check "and cleans as the spec" "error" "$(status_of "$V4")"
check_fails "a comment of the operator's own is still refused" "Invalid argument" \
	bash -c "printf '# host=node6@lvm\n' >'$R'"

# ---- A job not ended: the read differs too ----
# The job of n1's cluster waits while n1 is stopped (SIGSTOP, for less
# than service_down_time: it was up when the request was planned); the
# request is written and read on a control-only mount meanwhile.
printf '%s' "$spec" >"$R"; ended
V5=$(node6_dies_with 5)
start_daemon admin --control-only --service-down-time 3 --report-interval 1
A=$(mnt admin)
kill -STOP "${PIDS[n1]}"
printf '%s' "$spec" >"$A/cleanup/request"
id=$(sql "SELECT max(id) FROM cleanup_requests")
check "while its job is queued, the read says so" \
	"${spec}${NOTE_PREFIX}would reach 1 resource now; request $id has 1 job not ended" \
	"$(cat "$A/cleanup/request")"
kill -CONT "${PIDS[n1]}"
timeout 30 cat "$A/cleanup/history/latest/wait" >/dev/null
check "the job ran once n1 went on" "error" "$(status_of "$V5")"
sleep 1.2
check "and then the read is the spec again" "same" "$(printf %s "$spec" | cmp - "$A/cleanup/request" && echo same)"
stop_daemon admin TERM

# ---- A spec that matched no worker: accepted, and said ----
before=$(requests)
exec 3<>"$R"
printf 'host=node6@lvn\n' >&3
read -r n <&3
answer=$(cat <&3)
exec 3>&-
check "a typo is accepted, as Cinder accepts it" "$((before + 1))" "$n"
check "its answer says it matched no worker" "matched no worker" "$(echo "$answer" | jq -r .note)"
check "and still parses as the number then the result" '[] []' \
	"$(echo "$answer" | jq -c '.cleaning, .unavailable' | xargs)"
check "its history result is Cinder's, unchanged" '{"cleaning":[],"unavailable":[]}' \
	"$(jq -c . "$M/cleanup/history/$n/result")"
check "its progress.json says it too" "matched no worker" \
	"$(jq -r .note "$M/cleanup/history/$n/progress.json")"
check "progress.json's stat is its size" "$(wc -c <"$M/cleanup/history/$n/progress.json")" \
	"$(stat -c %s "$M/cleanup/history/$n/progress.json")"
check "and the log" "yes" \
	"$(grep -q "cleanup request $n accepted: it matched no worker" "$TEST_ROOT/n1.log" && echo yes)"
printf 'host=node6@lvm\n' >"$R"; ended
check "a spec that matched a worker has no note, in progress.json" "null" \
	"$(jq -r .note "$M/cleanup/history/latest/progress.json")"
check "nor in its answer" "null" \
	"$(exec 3<>"$R"; printf 'host=node6@lvm\n' >&3; read -r n <&3; jq -r .note <&3)"
ended

# --check-spec with --db says it before anything runs: a spec that names
# no worker, up or down, fails (a typo); one that matches none now is valid.
printf 'host=node6@lvn\n' >"$TEST_ROOT/typo"
out=$("$CINDERFS" --check-spec "$TEST_ROOT/typo" --db "$DB" --service-down-time 3 2>&1); rc=$?
check "--check-spec --db: a typo fails" "1" "$rc"
check "with the words" "yes" "$([[ $out == *"matched no worker, up or down"* ]] && echo yes || echo "no: $out")"
check "--check-spec alone still only checks the syntax" "0" \
	"$("$CINDERFS" --check-spec "$TEST_ROOT/typo" >/dev/null 2>&1; echo $?)"
printf 'host=n1@lvm\n' >"$TEST_ROOT/up"
out=$("$CINDERFS" --check-spec "$TEST_ROOT/up" --db "$DB" --service-down-time 3 2>&1); rc=$?
check "a live worker's spec is valid, and matches none now" "0 yes" \
	"$rc $([[ $out == *"matched no worker now (1 worker it names"* ]] && echo yes || echo "no: $out")"
printf 'host=node6@lvm\n' >"$TEST_ROOT/down"
check "a down worker's: matches it" "cinderfs: $TEST_ROOT/down: valid; it matches 1 worker now" \
	"$("$CINDERFS" --check-spec "$TEST_ROOT/down" --db "$DB" --service-down-time 3 2>&1)"
printf 'resource_id=dddddddd-0000-4000-8000-000000000000\n' >"$TEST_ROOT/gone"
out=$("$CINDERFS" --check-spec "$TEST_ROOT/gone" --db "$DB" --service-down-time 3 2>&1); rc=$?
check "the resource lookup is the write's" "1 yes" \
	"$rc $([[ $out == *"There is no resource with UUID"* ]] && echo yes || echo "no: $out")"
before=$(requests)
out=$(ansible localhost -i localhost, -c local -m copy -a "$(jq -cn --arg d "$R" \
	--arg v "$CINDERFS --check-spec %s --db $DB --service-down-time 3" '{content: "host=node6@lvn\n", dest: $d, validate: $v}')" 2>&1)
rc=$?
check "Ansible with validate= and --db: a typo fails the task" "yes" \
	"$([ "$rc" != 0 ] && echo "$out" | grep -q 'matched no worker, up or down' && echo yes || echo "no (rc $rc): $out")"
check "and never reached the mount" "$before" "$(requests)"

# ---- The real Ansible ----
# The README's playbook, doc/examples/converge.yml, as it is (its
# validate= runs this build's cinderfs --check-spec).
PLAY=$(dirname "$0")/../../doc/examples/converge.yml
playbook() {
	PATH=$(dirname "$CINDERFS"):$PATH ansible-playbook -i localhost, -c local \
		-e cinderfs_mount="$M" "$PLAY" 2>&1
}
recap() { echo "$1" | grep -o 'changed=[0-9]* .*failed=[0-9]*' | awk '{print $1, $3}'; }

# Start from another spec, so that the first run has something to change.
printf 'host=n1@lvm' >"$R"; ended
V6=$(node6_dies_with 6)
before=$(requests)
out=$(playbook); rc=$?
check "Ansible, first run: changed" "0 changed=1 failed=0" "$rc $(recap "$out")"
check "one request" "$((before + 1))" "$(requests)"
ended
check "node6's volume cleaned" "error" "$(status_of "$V6")"
sleep 1.2
out=$(playbook); rc=$?
check "Ansible, second run: ok" "0 changed=0 failed=0" "$rc $(recap "$out")"
check "nothing requested" "$((before + 1))" "$(requests)"
V7=$(node6_dies_with 7)
out=$(playbook); rc=$?
check "Ansible, third run, node6 died again with a stuck volume: changed" "0 changed=1 failed=0" \
	"$rc $(recap "$out")"
check "one request more" "$((before + 2))" "$(requests)"
ended
check "and the new stuck volume is cleaned" "error" "$(status_of "$V7")"
sleep 1.2
out=$(playbook); rc=$?
check "Ansible, fourth run: ok" "0 changed=0 failed=0" "$rc $(recap "$out")"
check "nothing requested" "$((before + 2))" "$(requests)"

# ---- The real Puppet ----
P=$TEST_ROOT/puppet
mkdir -p "$P"
# The README's manifest, doc/examples/converge.pp, with this mount's path.
sed "s|/mnt/cinder/|$M/|" "$(dirname "$0")/../../doc/examples/converge.pp" >"$P/converge.pp"
check "the manifest names this mount" "yes" "$(grep -q "'$R'" "$P/converge.pp" && echo yes)"
# --detailed-exitcodes: 0 nothing changed, 2 changed, 4 or 6 failed.
puppet_apply() {
	puppet apply --detailed-exitcodes --color=false --confdir "$P/conf" --vardir "$P/var" \
		--codedir "$P/code" --logdir "$P/log" --rundir "$P/run" "$P/converge.pp" \
		>"$P/out" 2>&1
	echo $?
}
printf 'host=n1@lvm' >"$R"; ended
V8=$(node6_dies_with 8)
before=$(requests)
check "Puppet, first run: changed" "2" "$(puppet_apply)"
check "one request" "$((before + 1))" "$(requests)"
ended
check "node6's volume cleaned" "error" "$(status_of "$V8")"
sleep 1.2
check "Puppet, second run: nothing changed" "0" "$(puppet_apply)"
check "nothing requested" "$((before + 1))" "$(requests)"
V9=$(node6_dies_with 9)
check "Puppet, third run, node6 died again with a stuck volume: changed" "2" "$(puppet_apply)"
check "one request more" "$((before + 2))" "$(requests)"
ended
check "and the new stuck volume is cleaned" "error" "$(status_of "$V9")"
sleep 1.2
check "Puppet, fourth run: nothing changed" "0" "$(puppet_apply)"
check "nothing requested" "$((before + 2))" "$(requests)"
check "no temporary file or lock is left" "" \
	"$(ls -A "$M/cleanup" | grep -v -x -e request -e result -e error -e history -e preview)"

true
