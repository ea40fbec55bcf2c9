#!/usr/bin/env bash
# Runs the commands README.md shows, verbatim, on a fresh clone of this
# checkout, the way a new user types them, and fails if any of them fails.
#
# Which lines are commands: the README's indented code blocks (four spaces,
# outside ``` fences; a trailing backslash continues a line). Go code sits in
# fenced blocks and is not run here (the examples' own tests run it).
#
#   - `.ci/run` is skipped: it is what runs this script.
#   - A command that serves (`... serve ...`, `--serve ADDR`)
#     starts in the background, in its own process group, and the script
#     waits until its address accepts connections; a later server on the same
#     address first stops it with SIGINT, as a user's Ctrl-C would, and every
#     server is stopped at the end.
#   - The README's invisible marker `<!-- readme.sh: stop servers -->`
#     stops every running server there, where the prose tells the user to
#     stop theirs (Ctrl-C).
#   - Everything else runs in the foreground, in one shell, so that `export`
#     lines carry over; a non-zero exit fails the script.
#
# The tour runs once per AWS CLI major version, each time on a fresh clone
# with the README's /tmp/sluice-* directories removed first: `aws` is the
# CLI v1 (the Python awscli; found on PATH or through pyenv) in the first
# pass and v2 (Debian's awscli package, /usr/bin/aws) in the second. With
# SLUICE_REQUIRE_INTEGRATION=1 a missing CLI fails the script; otherwise its
# pass is skipped with a message.
#
# It clones the committed HEAD, so commit what it should see.
#
# Usage: .ci/readme.sh [README.md]   (from the repository root)
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
readme="${1:-README.md}"
work="$(mktemp -d /tmp/sluice-readme.XXXXXX)"
server_pids=()
server_addrs=()

log() { echo "readme: $*" >&2; }

stop_server() { # index
	local i="$1" pid="${server_pids[$1]}"
	[ -n "$pid" ] || return 0
	kill -INT -- "-$pid" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 -- "-$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	server_pids[$i]=""
}

stop_all() {
	local i
	for i in "${!server_pids[@]}"; do stop_server "$i"; done
}
trap 'stop_all; rm -rf "$work"' EXIT

# commands prints the README's commands, one per line.
commands() {
	awk '
		/<!-- readme.sh: stop servers -->/ { print "#stop-servers"; next }
		/^```/ { fence = !fence; next }
		fence { next }
		/^    / && (prev_blank || in_block) {
			line = substr($0, 5)
			in_block = 1
			sub(/^[ \t]+/, "", line)
			if (cont != "") { line = cont " " line; cont = "" }
			if (line ~ /\\$/) { sub(/[ \t]*\\$/, "", line); cont = line; next }
			print line
			next
		}
		{ in_block = 0; prev_blank = ($0 ~ /^[ \t]*$/) }
	' "$1"
}

# addr_of prints the address a serving command listens on.
addr_of() {
	local cmd="$1"
	if [[ "$cmd" =~ --(addr|serve)[=\ ]([^ ]+) ]]; then
		echo "${BASH_REMATCH[2]}"
	fi
}

wait_for() { # addr pid logfile
	local host="${1%:*}" port="${1##*:}"
	for _ in $(seq 1 600); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			log "server exited before listening on $1:"; cat "$3" >&2
			return 1
		fi
		sleep 0.5
	done
	log "nothing listens on $1 after 5 minutes:"; cat "$3" >&2
	return 1
}

find_cli() { # major version
	local want="$1" c
	local cands=()
	if [ "$want" = 2 ]; then cands+=(/usr/bin/aws); fi
	while IFS= read -r c; do cands+=("$c"); done < <(type -ap aws 2>/dev/null || true)
	if command -v pyenv >/dev/null 2>&1; then
		c="$(pyenv which aws 2>/dev/null || true)"
		[ -n "$c" ] && cands+=("$c")
	fi
	for c in "${cands[@]}"; do
		[ -x "$c" ] || continue
		if "$c" --version 2>&1 | grep -q "^aws-cli/$want\."; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

run_tour() { # cli-major
	local major="$1" cli
	if ! cli="$(find_cli "$major")"; then
		if [ "${SLUICE_REQUIRE_INTEGRATION:-}" = 1 ]; then
			log "AWS CLI v$major not found (v1: the Python awscli; v2: Debian's awscli package)"
			return 1
		fi
		log "AWS CLI v$major not found: pass skipped"
		return 0
	fi
	log "pass with $("$cli" --version 2>&1)"
	local clone="$work/v$major/sluice"
	mkdir -p "$work/v$major/bin"
	ln -sf "$cli" "$work/v$major/bin/aws"
	git clone -q "$repo" "$clone"
	# The README's data sets are read from ../shared beside the checkout.
	[ -e "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/v$major/shared"
	rm -rf /tmp/sluice-log /tmp/sluice-ckpt /tmp/sluice-out /tmp/sluice-record /tmp/sluice-sql-out /tmp/sluice-serve /tmp/sluice-trig /tmp/sluice-video /tmp/small.mkv /tmp/got.mkv

	cd "$clone"
	export PATH="$work/v$major/bin:$PATH"
	# A new user has no AWS settings: none from this environment or ~/.aws
	# may make a README command work that would fail for them.
	local v
	for v in $(env | grep -o '^AWS_[A-Z0-9_]*' || true); do unset "$v"; done
	export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
	local cmd n=0
	while IFS= read -r cmd; do
		n=$((n + 1))
		case "$cmd" in
		.ci/run*) log "[$n] skip (this script's caller): $cmd"; continue ;;
		"#stop-servers") log "[$n] stop the servers"; stop_all; continue ;;
		esac
		if [[ "$cmd" =~ (^|[[:space:]])serve([[:space:]]|$)|--serve ]]; then
			local addr i out="$work/v$major/server-$n.log"
			addr="$(addr_of "$cmd")"
			if [ -z "$addr" ]; then
				log "[$n] a serving command without --addr or --serve: $cmd"
				return 1
			fi
			for i in "${!server_addrs[@]}"; do
				if [ "${server_addrs[$i]}" = "$addr" ]; then stop_server "$i"; fi
			done
			log "[$n] start: $cmd"
			setsid bash -c "$cmd" >"$out" 2>&1 &
			server_pids+=("$!")
			server_addrs+=("$addr")
			wait_for "$addr" "$!" "$out"
		else
			log "[$n] run: $cmd"
			if ! eval "$cmd"; then
				log "[$n] FAILED: $cmd"
				return 1
			fi
		fi
	done < <(commands "$clone/$readme")
	if [ "$n" = 0 ]; then
		log "no commands found in $readme"
		return 1
	fi
	stop_all
	cd "$repo"
}

run_tour 1
run_tour 2
log "every README command passed"
