#!/usr/bin/env bash
# Runs the OCI runtime-tools validation suite against an OCI runtime with runc's
# command line (runc, crun, dockyard-runtime, ...). See docs/conformance.md.
#
# The suite (github.com/opencontainers/runtime-tools) is NOT part of Dockyard:
# it is fetched separately, checked out and built in a scratch directory outside
# this repository, and must never be committed to (or copied into) this repo.
# Point RUNTIME_TOOLS at that checkout. It vendors its Go dependencies, so it is
# built offline with GOFLAGS=-mod=vendor GOPROXY=off (commit 260e151 is the
# newest that builds with Debian 12's Go 1.19).
#
# Usage (as root):
#   RUNTIME_TOOLS=/work/scratch/runtime-tools scripts/conformance.sh RUNTIME [TEST...]
#     RUNTIME   runtime executable, a name on PATH or a path (e.g. runc, dockyard-runtime)
#     TEST      validation test names (e.g. default state kill); default: all of them
# Environment:
#   RUNTIME_TOOLS  runtime-tools checkout (required)
#   TEST_TIMEOUT   seconds per test before it is killed (default 120)
#   LOG_DIR        where each test's TAP output goes (default: a new dir under
#                  /tmp/dockyard-conformance-logs)
#   REBUILD=1      rebuild the test executables even if they exist
#
# Each test is run the way upstream's `make localvalidation` does: from the
# checkout's top directory (the tests read ./runtimetest and ./rootfs-amd64.tar.gz
# from there), as `RUNTIME=<runtime> ./validation/<test>/<test>.t`, which prints TAP.
# After each test this script removes what that test left behind and only that:
# containers that were not in `<runtime> list` before the test, processes that
# carry this run's marker in their environment, new cgroup directories named the
# way the suite names them, mounts under the test's private TMPDIR, and that TMPDIR.
#
# Prints one line per test, `PASS|FAIL|TIMEOUT name  (n ok / m not ok)`, then totals.
# Exit status: 0 if every test passed, 1 if any did not, 2 on usage/build errors.
set -uo pipefail

die() { echo "conformance.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: RUNTIME_TOOLS=/path/to/runtime-tools $0 RUNTIME [TEST...]"
[ "$(id -u)" = 0 ] || die "run as root (the suite creates containers, cgroups and mounts)"
[ -n "${RUNTIME_TOOLS:-}" ] || die "set RUNTIME_TOOLS to a runtime-tools checkout (outside this repo)"
RT=$(cd "$RUNTIME_TOOLS" 2>/dev/null && pwd) || die "RUNTIME_TOOLS=$RUNTIME_TOOLS: no such directory"
[ -d "$RT/validation/util" ] && [ -d "$RT/vendor" ] || die "$RT does not look like a runtime-tools checkout with vendor/"

runtime_arg=$1; shift
RUNTIME_BIN=$(command -v -- "$runtime_arg") || die "runtime '$runtime_arg' not found"
TEST_TIMEOUT=${TEST_TIMEOUT:-120}
case $(uname -m) in x86_64) ARCH=amd64 ;; i?86) ARCH=386 ;; aarch64) ARCH=arm64 ;; *) ARCH=$(uname -m) ;; esac

# ---------------------------------------------------------------- build -------
export GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on
all_tests=$(cd "$RT" && find validation -mindepth 2 -maxdepth 2 -name '*.go' ! -path 'validation/util/*' \
  | sed 's|^validation/\([^/]*\)/.*|\1|' | sort -u)
if [ $# -gt 0 ]; then tests="$*"; else tests=$all_tests; fi
for t in $tests; do
  [ -f "$RT/validation/$t/$t.go" ] || die "no such validation test: $t"
done

build() {  # same commands as upstream's Makefile targets runtimetest and validation/%.t
  local commit version
  commit=$(git -C "$RT" describe --dirty --long --always --tags 2>/dev/null || echo unknown)
  version=$(cat "$RT/VERSION" 2>/dev/null || echo unknown)
  local need=0 t
  [ "${REBUILD:-0}" = 1 ] || [ ! -x "$RT/runtimetest" ] && need=1
  for t in $tests; do [ -x "$RT/validation/$t/$t.t" ] || need=1; done
  [ $need = 1 ] || return 0
  command -v go >/dev/null || die "go not found (apt-get install -y golang-go)"
  if [ "${REBUILD:-0}" = 1 ] || [ ! -x "$RT/runtimetest" ]; then
    echo "building runtimetest ..." >&2
    (cd "$RT" && go build -tags "netgo osusergo" \
      -ldflags "-extldflags -static -X main.gitCommit=$commit -X main.version=$version" \
      -o runtimetest ./cmd/runtimetest) || die "building runtimetest failed"
  fi
  for t in $tests; do
    if [ "${REBUILD:-0}" = 1 ] || [ ! -x "$RT/validation/$t/$t.t" ]; then
      echo "building validation/$t/$t.t ..." >&2
      (cd "$RT" && go build -ldflags "-X main.gitCommit=$commit -X main.version=$version" \
        -o "validation/$t/$t.t" "validation/$t/$t.go") || die "building validation/$t failed"
    fi
  done
}
build
[ -f "$RT/rootfs-$ARCH.tar.gz" ] || die "$RT/rootfs-$ARCH.tar.gz missing"

# ------------------------------------------------------------ snapshots -------
UUID_RE='[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
# Cgroup directories the suite (or a runtime on its behalf) creates: /cgrouptest,
# testdir/cgrouptest/container (relative to the runtime's own cgroup), and
# per-container ones, whose names contain the container's UUID.
SUITE_CG_RE="/(cgrouptest|testdir|[^/]*$UUID_RE[^/]*)(/|\$)"

list_containers() {  # container IDs, one per line
  local out
  if out=$("$RUNTIME_BIN" list -q 2>/dev/null); then
    printf '%s\n' "$out" | sed '/^$/d'
  else  # runtimes without -q: first column of the table, minus the header
    "$RUNTIME_BIN" list 2>/dev/null | awk 'NR>1 && NF {print $1}'
  fi
}
list_cgroups() { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort; }
list_mounts() { awk '{print $5}' /proc/self/mountinfo | sort; }
count() { sed '/^$/d' | wc -l; }

RUN_ID=$$-$(date +%s)
LOG_DIR=${LOG_DIR:-/tmp/dockyard-conformance-logs/$(basename "$RUNTIME_BIN")-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$LOG_DIR" || die "cannot create $LOG_DIR"
SCRATCH=$(mktemp -d /tmp/dockyard-conformance.XXXXXX) || die "mktemp failed"
# 0755: containers with user namespaces must be able to traverse to their bundle.
chmod 755 "$SCRATCH"

# Kill processes that carry this test's marker in their environment (children of
# the test that outlived it, e.g. `unshare ... sleep 10000` of linux_ns_path).
kill_marked() {
  local marker=$1 p pids=
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = $$ ] && continue
    if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "$marker"; then
      pids="$pids ${p#/proc/}"
    fi
  done
  [ -n "$pids" ] || return 0
  echo "cleanup: killing leftover processes:$pids" >&2
  kill -KILL $pids 2>/dev/null
  sleep 0.2
}

cleanup_after() {  # $1 test, $2 marker, $3 test TMPDIR, $4/$5/$6 containers/cgroups/mounts before
  local t=$1 marker=$2 tmp=$3 before_c=$4 before_g=$5 before_m=$6 id m d left=0
  # 1. containers created during the test
  for id in $(comm -13 "$before_c" <(list_containers | sort)); do
    echo "cleanup: deleting leftover container $id" >&2
    "$RUNTIME_BIN" delete --force "$id" >/dev/null 2>&1 || {
      "$RUNTIME_BIN" kill "$id" KILL >/dev/null 2>&1; sleep 0.5
      "$RUNTIME_BIN" delete --force "$id" >/dev/null 2>&1 || { echo "cleanup: could not delete $id" >&2; left=1; }
    }
  done
  # 2. stray processes started by the test
  kill_marked "$marker"
  # 3. new mounts under the test's TMPDIR or naming one of its containers (deepest first)
  for m in $(comm -13 "$before_m" <(list_mounts) | grep -E "^$tmp/|$UUID_RE" | sort -r); do
    echo "cleanup: unmounting $m" >&2
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || { echo "cleanup: cannot unmount $m" >&2; left=1; }
  done
  # 4. new cgroup directories named the way the suite names them (deepest first)
  for d in $(comm -13 "$before_g" <(list_cgroups) | grep -E "$SUITE_CG_RE" | sort -r); do
    echo "cleanup: removing cgroup $d" >&2
    rmdir "$d" 2>/dev/null || { [ -d "$d" ] && { echo "cleanup: cannot rmdir $d" >&2; left=1; }; }
  done
  # 5. the test's TMPDIR (bundles, pid files) unless something is still mounted there
  if list_mounts | grep -qF "$tmp/"; then
    echo "cleanup: $tmp still has mounts, not removing it" >&2; left=1
  else
    rm -rf --one-file-system "$tmp"
  fi
  return $left
}

# ------------------------------------------------------------------ run -------
echo "runtime:        $RUNTIME_BIN ($("$RUNTIME_BIN" --version 2>/dev/null | head -1))"
echo "runtime-tools:  $RT ($(git -C "$RT" describe --long --always --tags 2>/dev/null || echo '?'))"
echo "kernel:         $(uname -r), cgroups: $( [ -f /sys/fs/cgroup/cgroup.controllers ] && echo v2 || { [ -d /sys/fs/cgroup/unified ] && echo 'hybrid v1+v2' || echo v1; })"
echo "timeout:        ${TEST_TIMEOUT}s per test; TAP logs in $LOG_DIR"
echo

list_containers | sort >"$SCRATCH/containers.start"
list_cgroups >"$SCRATCH/cgroups.start"
list_mounts >"$SCRATCH/mounts.start"

width=0
for t in $tests; do [ ${#t} -gt $width ] && width=${#t}; done
n_tests=0 n_pass=0 a_ok=0 a_notok=0 a_skip=0 dirty=0
failed=()
start_all=$(date +%s)

for t in $tests; do
  n_tests=$((n_tests + 1))
  log="$LOG_DIR/$t.tap"
  tmp="$SCRATCH/$t"
  mkdir -p "$tmp"
  marker="DOCKYARD_CONFORMANCE_RUN=$RUN_ID-$t"
  list_containers | sort >"$SCRATCH/c.before"
  list_cgroups >"$SCRATCH/g.before"
  list_mounts >"$SCRATCH/m.before"

  t0=$(date +%s.%N)
  (cd "$RT" && exec env "$marker" TMPDIR="$tmp" RUNTIME="$RUNTIME_BIN" \
      timeout -k 10 "$TEST_TIMEOUT" "./validation/$t/$t.t") >"$log" 2>"$LOG_DIR/$t.stderr" </dev/null
  rc=$?
  secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')

  ok=$(grep -cE '^ok( |$)' "$log")
  notok=$(grep -cE '^not ok( |$)' "$log")
  skip=$(grep -ciE '^ok[^#]*#[[:space:]]*skip' "$log")
  plan=$(grep -oE '^1\.\.[0-9]+' "$log" | head -1 | cut -d. -f3)
  # Verdict. The exit status counts: the *_fail tests exit 0 with no TAP at all
  # when the runtime correctly refused the config, and exit 1 (util.Fatal) when
  # it did not. The hook tests (prestart, poststop, ...) plan 1..0 and report a
  # failure only as a top-level YAML diagnostic with a non-empty "error".
  errdiag=0
  if [ $((ok + notok)) = 0 ] && grep -qE '^[[:space:]]+"error": "[^"]' "$log"; then errdiag=1; fi
  if [ $rc = 124 ] || [ $rc = 137 ]; then
    status=TIMEOUT
  elif [ $rc != 0 ] || [ "$notok" != 0 ] || [ $errdiag = 1 ]; then
    status=FAIL
  elif [ -n "$plan" ] && [ "$plan" != $((ok + notok)) ]; then
    status=FAIL
  else
    status=PASS
  fi
  [ $status = PASS ] && n_pass=$((n_pass + 1)) || failed+=("$t")
  a_ok=$((a_ok + ok)); a_notok=$((a_notok + notok)); a_skip=$((a_skip + skip))
  extra=""
  [ "$skip" -gt 0 ] && extra=", $skip skipped"
  [ $status = FAIL ] && [ $rc != 0 ] && extra="$extra, exit $rc"
  [ -n "$plan" ] && [ "$plan" != $((ok + notok)) ] && extra="$extra, plan 1..$plan"
  [ -z "$plan" ] && [ $status != PASS ] && extra="$extra, no TAP plan"
  [ $errdiag = 1 ] && extra="$extra, error diagnostic"
  printf '%-7s %-*s  (%d ok / %d not ok%s) %ss\n' "$status" "$width" "$t" "$ok" "$notok" "$extra" "$secs"

  cleanup_after "$t" "$marker" "$tmp" "$SCRATCH/c.before" "$SCRATCH/g.before" "$SCRATCH/m.before" 2>>"$LOG_DIR/cleanup.log" || dirty=1
done
end_all=$(date +%s)

# ------------------------------------------------------------- summary -------
list_containers | sort >"$SCRATCH/containers.end"
list_cgroups >"$SCRATCH/cgroups.end"
list_mounts >"$SCRATCH/mounts.end"
# Only count what looks like ours: other work on the machine may add cgroups/mounts.
comm -13 "$SCRATCH/containers.start" "$SCRATCH/containers.end" >"$SCRATCH/new.c"
comm -13 "$SCRATCH/cgroups.start" "$SCRATCH/cgroups.end" | grep -E "$SUITE_CG_RE" >"$SCRATCH/new.g"
comm -13 "$SCRATCH/mounts.start" "$SCRATCH/mounts.end" | grep -E "^$SCRATCH/|$UUID_RE|/ocitest" >"$SCRATCH/new.m"
new_c=$(count <"$SCRATCH/new.c"); new_g=$(count <"$SCRATCH/new.g"); new_m=$(count <"$SCRATCH/new.m")

echo
echo "tests:      $n_pass/$n_tests passed"
echo "assertions: $a_ok/$((a_ok + a_notok)) ok ($a_skip of the ok are skips), $a_notok not ok"
echo "time:       $((end_all - start_all))s"
[ ${#failed[@]} -gt 0 ] && echo "not passed: ${failed[*]}"
echo "leftovers:  $new_c containers, $new_g cgroup dirs, $new_m mounts (compared with before the run)"
if [ "$dirty" = 1 ] || [ "$new_c$new_g$new_m" != 000 ]; then
  echo "WARNING: cleanup was incomplete, see $LOG_DIR/cleanup.log" >&2
  sed 's/^/  container /' "$SCRATCH/new.c" >&2
  sed 's/^/  cgroup /' "$SCRATCH/new.g" >&2
  sed 's/^/  mount /' "$SCRATCH/new.m" >&2
fi
rm -rf --one-file-system "$SCRATCH"
[ $n_pass = $n_tests ] && exit 0 || exit 1
