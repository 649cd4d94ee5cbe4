#!/usr/bin/env bash
# The size a stat gives is the size of what a read returns: st_size of
# cleanup/request, cleanup/result and cleanup/history/<n>/{request,result,
# progress.json,cancel} equals the bytes cat reads, through a request's
# life (queued, claimed, cleaned; details with quotes, backslashes,
# newlines and non-ASCII text), in ls -l as in stat; an open file's fstat
# is its own snapshot's. And stat learns progress.json's size without
# rendering it: the daemon's debug log names every render, and a big
# request's stats and listings make none.
. "$(dirname "$0")/lib.sh"

OPTS=(--service-down-time 30 --report-interval 1 --cluster c1@lvm)
start_worker n1 "${OPTS[@]}"
start_daemon ctl --control-only --debug
M=$(mnt ctl)
H=$M/cleanup/history/00000001
VER=$(sql "SELECT rpc_current_version FROM services WHERE host = 'n1@lvm'")

# A worker of c1 dead an hour ago, with three volumes being created.
HOUR_AGO=$(db_time '-1 hour')
DEAD=$(sql "INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
	disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
	VALUES ('$HOUR_AGO', '$HOUR_AGO', 0, 'w9@lvm', 'cinder-volume', 'cinder-volume', 0, 0, 'nova',
	'$VER', '$VER', 'c1@lvm') RETURNING id")
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3)
	INSERT INTO volumes (id, status, attach_status, size, host, cluster_name, deleted, created_at)
	SELECT $(seq_uuid 5153e000), 'creating', 'detached', 1, 'w9@lvm', 'c1@lvm', 0, '$HOUR_AGO' FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3)
	INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at)
	SELECT 'Volume', $(seq_uuid 5153e000), 'creating', $DEAD, '$HOUR_AGO', '$HOUR_AGO' FROM n;"

# sizes DIR FILE...: "ok" when stat's size of each file is the bytes cat
# reads, and ls -l's too; else what differs. The kernel keeps attributes
# 0.5 s: stat asks the daemon only after that.
sizes() {
	local dir=$1 f s c l bad=
	shift
	sleep 0.6
	for f; do
		s=$(stat -c %s "$dir/$f") c=$(cat "$dir/$f" | wc -c)
		l=$(ls -l "$dir" | awk -v f="$f" '$NF == f { print $5 }')
		[ "$s" = "$c" ] && [ "$l" = "$c" ] || bad+="$f: stat $s, ls -l $l, cat $c; "
	done
	echo "${bad:-ok}"
}
renders() { grep -c 'progress.json rendered' "$TEST_ROOT/ctl.log"; }
HISTORY_FILES=(request result progress.json cancel)

check "before any request: cleanup/request and result" "ok" "$(sizes "$M/cleanup" request result)"

# Queued: the worker that owes the job is frozen (30 s of down time: it
# still counts as up).
N1=$(sql "SELECT id FROM services WHERE host = 'n1@lvm'")
wait_until 10 grep -qx true "$M/workers/$N1/is_up" || log "n1 is not up yet"
kill -STOP "${PIDS[n1]}"
check_cmd "a cleanup of w9 is accepted" sh -c "echo 'host=w9@lvm' >'$M/cleanup/request'"
check "the request is queued" "queued 3" \
	"$(jq -r '.state + " " + (.counts.queued | tostring)' "$H/progress.json")"
check "queued: every file's size is what cat reads" "ok" "$(sizes "$H" "${HISTORY_FILES[@]}")"
check "queued: wait's size is 0 (the final document is not known yet)" "0" "$(stat -c %s "$H/wait")"
check "and cleanup/request and result" "ok" "$(sizes "$M/cleanup" request result)"

# Claimed, with details of every kind (written as the cleaner writes them,
# so that each kind shows).
if [ "$ENGINE" = sqlite ]; then NL='char(10)' TAB='char(9)'; else NL='chr(10)' TAB='chr(9)'; fi
sql "UPDATE cleanup_progress SET state = 'claimed', worker_id = 1,
	detail = 'said \"no\" \\ C:\\path' || $NL || 'line 2' || $TAB || 'été 日本'
	WHERE resource_id LIKE '%1'"
check "claimed, with quotes, a backslash, a newline and non-ASCII: sizes hold" "ok" \
	"$(sizes "$H" "${HISTORY_FILES[@]}")"
check "and progress.json shows the detail whole" $'said "no" \\ C:\\path\nline 2\tété 日本' \
	"$(jq -r '.resources[0].detail' "$H/progress.json")"

# Cleaned by the worker, thawed.
kill -CONT "${PIDS[n1]}"
check "the request ends done" "done 3" \
	"$(timeout 30 jq -r '.state + " " + (.counts.cleaned | tostring)' "$H/wait")"
check "cleaned: sizes hold" "ok" "$(sizes "$H" "${HISTORY_FILES[@]}")"
check "ended: wait's size is progress.json's, and what cat reads of it" \
	"$(stat -c %s "$H/progress.json") $(stat -c %s "$H/progress.json")" \
	"$(stat -c %s "$H/wait") $(timeout 10 cat "$H/wait" | wc -c)"
sql "UPDATE cleanup_progress SET detail = 'ütf-8 “quotes” and \"json\" \\\\ escapes' WHERE resource_id LIKE '%2'"
check "a detail changed after: sizes hold" "ok" "$(sizes "$H" "${HISTORY_FILES[@]}")"
check "a second request: cleanup/request and result are its" "ok" \
	"$(echo 'cluster_name=c1@lvm' >"$M/cleanup/request"; sizes "$M/cleanup" request result)"

# A result of several 64 KiB pieces (2,000 down workers of one cluster, a
# host name of some 60 bytes each, 'é' in it): read by the pieces a read
# covers, at any offset, its size what cat reads.
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
	INSERT INTO services (created_at, updated_at, deleted, host, \"binary\", topic, report_count,
	disabled, availability_zone, rpc_current_version, object_current_version, cluster_name)
	SELECT '$HOUR_AGO', '$HOUR_AGO', 0, 'bulk-' || i || '-a-long-host-name-with-an-é-in-it@lvm',
	'cinder-volume', 'cinder-volume', 0, 0, 'nova', '$VER', '$VER', 'bulk@lvm' FROM n"
echo 'cluster_name=bulk@lvm' >"$M/cleanup/request"
RESULT=$M/cleanup/result
sleep 0.6 # the kernel's cached attributes of the previous result age
check "a result of 2,000 workers is more than two pieces" "yes" \
	"$([ "$(stat -c %s "$RESULT")" -gt 131072 ] && echo yes || stat -c %s "$RESULT")"
check "its size is what cat reads" "ok" "$(sizes "$M/cleanup" result)"
check "it lists the 2,000" "2000" "$(jq '.unavailable | length' "$RESULT")"
check "a read across a piece's end is the same bytes as cat's" \
	"$(cat "$RESULT" | tail -c +65001 | head -c 1000 | od -An -tx1 | tr -d ' \n')" \
	"$(dd if="$RESULT" bs=1000 skip=65 count=1 status=none | od -An -tx1 | tr -d ' \n')"

# An open file is its snapshot: its size (lseek to the end asks the daemon
# by the open file once the kernel's cached attributes have aged) is what
# it reads; a change made meanwhile shows only once it is read again from
# the start, and then its size is the new document's. (fstat goes by path
# with the high-level API: it gives the request's size now, as stat.)
mkfifo "$TEST_ROOT/changed"
python3 - "$H/progress.json" "$TEST_ROOT/changed" >"$TEST_ROOT/snapshot.txt" <<'PY' &
import os, sys, time


def read_all(fd):
    data = b""
    while True:
        chunk = os.pread(fd, 1 << 20, len(data))
        if not chunk:
            return data
        data += chunk


def same(fd, data):
    time.sleep(0.6)
    size = os.lseek(fd, 0, os.SEEK_END)
    return "same" if size == len(data) else "size %d, read %d" % (size, len(data))


fd = os.open(sys.argv[1], os.O_RDONLY)
first = read_all(fd)
print("read:", same(fd, first), flush=True)
with open(sys.argv[2]) as f:
    f.read()  # the test changed a row
kept = same(fd, first)
second = read_all(fd)
print("kept:", kept, "reread:", "unchanged" if second == first else "changed", same(fd, second),
      flush=True)
PY
reader=$!
sleep 1.5
sql "UPDATE cleanup_progress SET detail = detail || ' (and more)' WHERE resource_id LIKE '%3'"
echo >"$TEST_ROOT/changed"
wait "$reader"
check "an open progress.json: its size is what it reads, a change after the open shows on a reread" \
	"read: same kept: same reread: changed same" "$(cat "$TEST_ROOT/snapshot.txt" | xargs)"

# A big request, seeded by hand: 20,000 resources, its job ended (no
# worker takes it or fails it: nothing changes the request meanwhile).
# stat, ls -l and a listing of the history measure it from its row:
# nothing is rendered.
sql "INSERT INTO cleanup_requests (id, created_at, spec, filter, result_size) VALUES
	(50, '$HOUR_AGO', 'host=big', '{}', 0);
	INSERT INTO cleanup_jobs (id, request_id, service_id, until, state)
	VALUES (500, 50, $DEAD, '$HOUR_AGO', 'done');"
sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
	INSERT INTO cleanup_progress (request_id, job_id, resource_type, resource_id, state, detail, updated_at)
	SELECT 50, 500, 'Volume', $(seq_uuid b16b16b1), 'queued',
	CASE WHEN i % 3 = 0 THEN 'n° ' || i || ' \"q\"' END, '$HOUR_AGO' FROM n"
BIG=$M/cleanup/history/00000050
before=$(renders)
sleep 0.6
big_size=$(stat -c %s "$BIG/progress.json")
for i in 1 2 3 4 5; do sleep 0.6; stat "$BIG/progress.json" >/dev/null; ls -l "$BIG" >/dev/null; done
ls -l "$M/cleanup/history" >/dev/null
check "stat and ls -l of a 20,000-resource progress.json render nothing" "0" "$(($(renders) - before))"
check "and its size is what cat then reads" "$big_size" "$(cat "$BIG/progress.json" | wc -c)"
check "which one render made" "1" "$(($(renders) - before))"
check "the document holds every resource" "20000" "$(jq '.resources | length' "$BIG/progress.json")"
check "no size the row promised differed from a render" "0" \
	"$(grep -c 'progress.json renders to' "$TEST_ROOT/ctl.log")"
true
