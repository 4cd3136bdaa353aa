#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests and prints its URL on stdout
# (everything else goes to stderr). Usage: `url=$(.ci/postgres.sh)`; then
# `PREPBOT_TEST_POSTGRES_URL=$url cargo test`. Stop it with `.ci/postgres.sh stop`.
#
# Installs Debian's postgresql package when the server is missing. The cluster runs
# as a non-root user (PostgreSQL refuses to run as root: CI runs as root, so the
# data directory goes to `nobody`), its data in a temporary directory, listening
# on 127.0.0.1 on a free port and on a socket in that directory, trusting local
# connections: it holds nothing but test databases.
set -euo pipefail

state="${PREPBOT_PG_STATE:-${TMPDIR:-/tmp}/prepbot-ci-postgres}"

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  return 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

if [ "${1:-}" = "stop" ]; then
  if [ -f "$state/data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$state/data" -m immediate stop >&2 || true
  fi
  exit 0
fi

if ! bin=$(bindir); then
  echo "PostgreSQL is not installed: installing Debian's postgresql package" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
  bin=$(bindir)
fi

# Already running from an earlier call: reuse it.
if [ -f "$state/port" ] && as_owner "$bin/pg_ctl" -D "$state/data" status >/dev/null 2>&1; then
  echo "postgres://prepbot@127.0.0.1:$(cat "$state/port")/postgres"
  exit 0
fi

rm -rf "$state"
mkdir -p "$state"
if [ "$(id -u)" -eq 0 ]; then
  chown nobody:nogroup "$state"
  # The owner must be able to reach the directory through every parent.
  chmod 755 "$state"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner "$bin/initdb" -D "$state/data" -U prepbot --auth=trust -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
  || { cat "$state/initdb.log" >&2; exit 1; }
as_owner "$bin/pg_ctl" -D "$state/data" -l "$state/data/server.log" -w -t 60 \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$state/data -c fsync=off -c max_connections=200" \
  start >&2
echo "$port" >"$state/port"
echo "postgres://prepbot@127.0.0.1:$port/postgres"
