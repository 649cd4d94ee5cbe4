#!/usr/bin/env bash
# Waiting for a cleanup without a loop of one's own: cleanup/history/<n>/wait
# blocks until the request's jobs have ended (bounded, interruptible,
# O_NONBLOCK-aware), and poll() on progress.json wakes a program on every
# change. The workers that owe the work are frozen (SIGSTOP) and thawed, so
# the jobs end when the test says.
. "$(dirname "$0")/lib.sh"
POLL="python3 $(dirname "$0")/poll_progress.py"

OPTS=(--service-down-time 30 --report-interval 1 --cluster c1@lvm)
start_worker n1 "${OPTS[@]}"
start_worker n2 "${OPTS[@]}"
start_daemon ctl --control-only
start_daemon short --control-only --wait-timeout 2 --wait-max 1
start_daemon stopping --control-only
M=$(mnt ctl)
S=$(mnt short)
# One more in the background, as cinderfs runs without -f: its threads
# must start after it forks.
BG=$TEST_ROOT/bg
mkdir -p "$BG"
"$CINDERFS" --db "$DB" --control-only "$BG" 2>"$TEST_ROOT/bg.log" ||
	{ echo "FAIL: the background daemon did not start"; cat "$TEST_ROOT/bg.log"; exit 1; }
on_exit fusermount3 -u -z "$BG"
wait_until 5 mountpoint -q "$BG" || { echo "FAIL: $BG is not mounted"; exit 1; }

V=0b7c5e38-2a6f-4d4e-9a51-3c1f7d9e2b10
PAST=$(db_time '-1 minute')
sql "INSERT INTO volumes (id, status, attach_status, size, host, deleted, created_at) VALUES
	('$V', 'creating', 'detached', 1, 'n2@lvm', 0, '$(db_time)');
INSERT INTO workers (resource_type, resource_id, status, service_id, created_at, updated_at) VALUES
	('Volume', '$V', 'creating', 2, '$PAST', '$PAST');"

# A request with nothing to do has ended at once.
echo 'cluster_name=c1@lvm' >"$M/cleanup/request"
check "wait of a request without jobs returns at once" "done" "$(timeout 5 jq -r .state "$M/cleanup/history/1/wait")"
check "wait lists in the history entry" "cancel progress.json request result wait" "$(ls "$M/cleanup/history/1" | xargs)"

# (lib.sh's cleanup thaws them, should the test end early.)
kill -STOP "${PIDS[n1]}" "${PIDS[n2]}"
echo 'cluster_name=c1@lvm is_up=true' >"$M/cleanup/request"
W=$M/cleanup/history/2/wait
check "the request has queued jobs" "queued 2" \
	"$(jq -r '.state + " " + (.jobs | length | tostring)' "$M/cleanup/history/2/progress.json")"

cat "$W" >"$TEST_ROOT/waited.json" &
waiter=$!
cat "$BG/cleanup/history/2/wait" >"$TEST_ROOT/bg-waited.json" &
bg_waiter=$!
$POLL "$M/cleanup/history/2/progress.json" 1000 >"$TEST_ROOT/polled.txt" &
poller=$!
sleep 1.5
check "a reader of wait blocks while jobs are queued" "blocked" \
	"$(kill -0 "$waiter" 2>/dev/null && echo blocked || echo "returned: $(cat "$TEST_ROOT/waited.json")")"
check "poll() reports nothing while nothing changes" "first queued quiet" "$(head -2 "$TEST_ROOT/polled.txt" | xargs)"
# Every refusal leaves its words in cleanup/error, an open's included, and
# a newer refusal replaces an older one.
check_fails "an open of progress.json for writing is refused" "Permission denied" \
	bash -c "exec 3>>'$M/cleanup/history/2/progress.json'"
check "cleanup/error says why" \
	"open cleanup/history/2/progress.json for writing: it is read-only; only cleanup/request, cleanup/preview, volumes/create, snapshots/create and the admin actions' files (README: Admin actions) take writes" \
	"$(cat "$M/cleanup/error")"
check_fails "O_NONBLOCK: EAGAIN instead of blocking" "Resource temporarily unavailable" \
	dd if="$W" iflag=nonblock status=none
check "cleanup/error says why, in place of the open's refusal" "yes" \
	"$(grep -q '^cleanup/history/00000002/wait: request 2 still has jobs queued or running, and the file was opened O_NONBLOCK' \
		"$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
check_fails "a history entry cannot be removed" "Permission denied" rmdir "$M/cleanup/history/00000001"
check "cleanup/error says so" "yes" \
	"$(grep -q '^rmdir cleanup/history/00000001: only volumes/<uuid>, ' "$M/cleanup/error" && echo yes || cat "$M/cleanup/error")"
start=$(date +%s%N)
timeout -s INT 1 cat "$W" >/dev/null
rc=$? took=$((($(date +%s%N) - start) / 1000000))
check "an interrupted reader is let go (Ctrl-C)" "124 yes" "$rc $([ "$took" -lt 2500 ] && echo yes || echo "no: $took ms")"

# One open file of wait: a thread blocks reading it while another polls
# it, stats it and seeks in it. A blocked read must hold up none of those
# (the daemon would answer them only once the read ended, up to
# cleanup_wait_timeout later). The reader uses pread first: read(2) holds
# the kernel's own position lock of the open file while it blocks, and
# lseek waits for that lock in the kernel, whatever the daemon does; then
# a read(2) joins it, and poll and fstat must still answer.
same_file=$(python3 - "$W" <<'PY'
import os, select, sys, threading, time

fd = os.open(sys.argv[1], os.O_RDONLY)


def block_in(call):
    def quietly():
        try:
            call()
        except OSError:
            pass
    threading.Thread(target=quietly, daemon=True).start()
    time.sleep(1)  # it blocks in the daemon by now


def took(call):
    """How call went, given 3 s in a thread of its own."""
    out = []
    start = time.monotonic()
    t = threading.Thread(target=lambda: out.append(call()), daemon=True)
    t.start()
    t.join(3)
    ms = (time.monotonic() - start) * 1000
    return "blocked" if not out else "%d ms" % ms if ms >= 1000 else \
        "not-readable" if out[0] == [] else "fast"


p = select.poll()
p.register(fd, select.POLLIN)
block_in(lambda: os.pread(fd, 65536, 0))
# lseek to the end asks the daemon for the size once the kernel's cached
# attributes (0.5 s) have aged, as they have after block_in's second.
print("pread: poll", took(lambda: p.poll(100)),
      "lseek", took(lambda: os.lseek(fd, 0, os.SEEK_END)),
      "fstat", took(lambda: os.fstat(fd)), end="; ")
block_in(lambda: os.read(fd, 65536))
print("read: poll", took(lambda: p.poll(100)), "fstat", took(lambda: os.fstat(fd)), flush=True)
os._exit(0)  # the readers are let go as the process ends
PY
)
check "poll, fstat and lseek of a wait file another thread reads return at once" \
	"pread: poll not-readable lseek fast fstat fast; read: poll not-readable fstat fast" "$same_file"

# The other mount: a 2 s bound and one waiter at a time.
SW=$S/cleanup/history/2/wait
start=$(date +%s%N)
(cat "$SW" >/dev/null 2>"$TEST_ROOT/short.err"; echo $? >"$TEST_ROOT/short.rc") &
short=$!
sleep 0.5 # the first reader blocks meanwhile
check_fails "beyond --wait-max: EAGAIN" "Resource temporarily unavailable" cat "$SW"
check "with the limit named in cleanup/error" "yes" \
	"$(grep -q '(the limit, cleanup_wait_max)' "$S/cleanup/error" && echo yes || cat "$S/cleanup/error")"
wait "$short"
took=$((($(date +%s%N) - start) / 1000000))
check "past --wait-timeout: ETIMEDOUT" "1 Connection timed out" \
	"$(cat "$TEST_ROOT/short.rc") $(grep -o 'Connection timed out' "$TEST_ROOT/short.err")"
check "after the timeout, not before" "yes" "$([ "$took" -ge 1900 ] && [ "$took" -lt 5000 ] && echo yes || echo "no: $took ms")"
check "with the reason in cleanup/error" "yes" \
	"$(grep -q 'still has jobs queued or running after 2 s (cleanup_wait_timeout)' "$S/cleanup/error" && echo yes || cat "$S/cleanup/error")"

# A daemon stopped while a reader waits stops at once, not after the wait.
stopping_reader() { cat "$(mnt stopping)/cleanup/history/2/wait" >/dev/null 2>&1; }
stopping_reader &
reader=$!
sleep 0.5
start=$(date +%s%N)
stop_daemon stopping TERM
took=$((($(date +%s%N) - start) / 1000000))
check "SIGTERM with a reader waiting: exit 0 within 5 s" "0 yes" \
	"$STOP_RC $([ "$took" -lt 5000 ] && echo yes || echo "no: $took ms")"
wait "$reader"; rc=$?
check "and the reader is let go with an error" "yes" "$([ "$rc" != 0 ] && echo yes)"

kill -CONT "${PIDS[n1]}" "${PIDS[n2]}"
start=$(date +%s%N)
wait "$waiter"
rc=$? took=$((($(date +%s%N) - start) / 1000000))
check "once the workers run, wait returns" "0 yes" "$rc $([ "$took" -lt 5000 ] && echo yes || echo "no: $took ms")"
check "with the final progress" "done 2" "$(jq -r '.state + " " + ([.jobs[] | select(.state == "done")] | length | tostring)' "$TEST_ROOT/waited.json")"
check "the same as progress.json" "$(jq -c . "$M/cleanup/history/2/progress.json")" "$(jq -c . "$TEST_ROOT/waited.json")"
wait "$bg_waiter"; rc=$?
check "a daemon in the background serves wait too" "0 done" "$rc $(jq -r .state "$TEST_ROOT/bg-waited.json")"
check "and the volume was cleaned" "error" "$(sql "SELECT status FROM volumes WHERE id = '$V'")"
wait "$poller"; rc=$?
check "poll() woke the program, which saw the request end" "0" "$rc"
log "poll_progress.py:"; while read -r line; do log "  $line"; done <"$TEST_ROOT/polled.txt"
events=$(grep -c '^event' "$TEST_ROOT/polled.txt")
# A wake-up is a change (POLLPRI) or the end (POLLHUP); the end may come
# alone when the last change was already read.
check "every wake-up brought a change (POLLPRI) or the end, the last POLLHUP" "yes" \
	"$([ "$events" -ge 1 ] && ! grep '^event' "$TEST_ROOT/polled.txt" | grep -vqE 'PRI|HUP' &&
	   tail -1 "$TEST_ROOT/polled.txt" | grep -q '^event .*HUP done ' && echo yes || cat "$TEST_ROOT/polled.txt")"
