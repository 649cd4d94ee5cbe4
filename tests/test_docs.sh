#!/usr/bin/env bash
# The man page renders without a warning (man -l, groff -ww), documents
# every option --help lists, and the sample config is one the daemon takes
# with every key uncommented.
set -u
: "${CINDERFS:?}" "${MAN_PAGE:?}" "${SAMPLE_CONFIG:?}" "${OPTIONS_SOURCE:?}"
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; shift; printf '#   %s\n' "$@"; }

warnings=$(groff -man -Tutf8 -ww -z "$MAN_PAGE" 2>&1)
[ -z "$warnings" ] && ok "groff renders the man page without a warning" || not_ok "groff warnings" "$warnings"
rendered=$(MANWIDTH=100 man -l "$MAN_PAGE" 2>/dev/null)
if echo "$rendered" | grep -q "cinderfs - Cinder volume worker with a FUSE control filesystem"; then
	ok "man -l renders the NAME section"
else
	not_ok "man -l renders the NAME section" "$(echo "$rendered" | head -5)"
fi
missing=""
for opt in $("$CINDERFS" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	echo "$rendered" | grep -q -- "$opt" || missing="$missing $opt"
done
[ -z "$missing" ] && ok "the man page documents every option of --help" || not_ok "options missing from the man page" "$missing"

# README's option table too (a flag in backquotes, as the table writes it).
readme=$(dirname "$OPTIONS_SOURCE")/../README.md
missing=""
for opt in $("$CINDERFS" --help | grep -oE -- '--[a-z-]+' | sort -u); do
	grep -q -- "\`$opt" "$readme" || missing="$missing $opt"
done
[ -z "$missing" ] && ok "README documents every option of --help" || not_ok "options missing from README" "$missing"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Uncomment every key that has a concrete default.
sed -E 's/^#([a-z_]+ = [^<]+)$/\1/' "$SAMPLE_CONFIG" >"$tmp"
keys=$(grep -cE '^[a-z_]+ = ' "$tmp")
out=$("$CINDERFS" --config "$tmp" --version 2>&1); rc=$?
[ "$rc" = 0 ] && ok "the daemon takes the sample config with $keys keys set" || not_ok "sample config refused" "$out"
documented=$(grep -oE '^#[a-z_]+ =' "$SAMPLE_CONFIG" | tr -d '#= ' | sort -u | xargs)
# Every key of the settings table in fs/options.c.
for key in $(grep -oE '^	\{ "[A-Za-z]+", "[a-z_]+"' "$OPTIONS_SOURCE" | cut -d'"' -f4); do
	case " $documented " in *" $key "*) ;; *) lacking="${lacking:-} $key" ;; esac
done
[ -z "${lacking:-}" ] && ok "the sample config comments every key" || not_ok "the sample config lacks keys" "$lacking"
# The project's own account of its cleanup semantics: there, linked from
# the README and the man page, and nothing points at a document that is
# not in the repository.
src=$(dirname "$OPTIONS_SOURCE")/..
[ -s "$src/doc/cleanup.md" ] && ok "doc/cleanup.md is there" || not_ok "doc/cleanup.md is missing"
grep -q '(doc/cleanup.md)' "$src/README.md" && ok "README links doc/cleanup.md" || not_ok "README does not link doc/cleanup.md"
echo "$rendered" | grep -q 'cleanup.md' && ok "the man page points at cleanup.md" || not_ok "the man page does not point at cleanup.md"
dangling=$(grep -rl --exclude=test_docs.sh 'SPEC-cleanup' "$src/README.md" "$src/doc" "$src/backend" "$src/fs" "$src/lvm" "$src/tests" 2>/dev/null)
[ -z "$dangling" ] && ok "no file points at a spec outside the repository" || not_ok "files name SPEC-cleanup.md" "$dangling"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
