#!/usr/bin/env bash
# Installs the Autobahn|Testsuite (wstest, Python 2.7 only) into autobahn/.venv.
#
# Idempotent: if .venv/bin/wstest exists, reports the expected version and the
# pinned package set is unchanged, this is a fast no-op. Otherwise the venv is
# (re)built from scratch.
#
# Env:
#   PYTHON2  path to a CPython 2.7 interpreter
#            (default: ~/.pyenv/versions/2.7.18/bin/python2.7)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv"
WSTEST_VERSION="25.10.1"
PYTHON2="${PYTHON2:-$HOME/.pyenv/versions/2.7.18/bin/python2.7}"

# Pinned install steps, in order. Every step is installed with --no-deps.
# Format per line: "<extra pip flags>|<requirements>"
STEPS=(
  "|pip==20.3.4 setuptools==44.0.0 wheel==0.36.2"
  "--only-binary=:all:|cryptography==3.3.2"
  "|cffi==1.15.1 pycparser==2.21 enum34==1.1.10 ipaddress==1.0.23 six==1.16.0 pyOpenSSL==19.1.0 zope.interface==4.6.0 MarkupSafe==1.1.1"
  "|incremental==16.10.1 constantly==15.1.0 attrs==21.4.0 Automat==20.2.0 idna==2.10 hyperlink==19.0.0 PyHamcrest==1.10.1"
  "--no-build-isolation|Twisted==19.10.0"
  "|txaio==2.1.0 autobahn==0.10.9 wsaccel==0.6.3 ujson==1.35 pyasn1==0.4.8 pyasn1-modules==0.2.8 service_identity==18.1.0 Werkzeug==1.0.1 Jinja2==2.11.3 klein==17.10.0 unittest2==1.1.0 argparse==1.4.0 traceback2==1.4.0 linecache2==1.0.0"
  "|autobahntestsuite==${WSTEST_VERSION}"
)
STAMP="$VENV/.autobahn-install-stamp"
STAMP_CONTENT="$(printf '%s\n' "$PYTHON2" "${STEPS[@]}")"

log() { echo "[autobahn] $*"; }

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1
export PYTHONWARNINGS="ignore"
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi

# ---- fast path -------------------------------------------------------------
if [ -x "$VENV/bin/wstest" ] && [ -f "$STAMP" ] \
   && [ "$(cat "$STAMP")" = "$STAMP_CONTENT" ] \
   && [[ "$("$VENV/bin/wstest" -a 2>/dev/null || true)" == *"AutobahnTestSuite $WSTEST_VERSION"* ]]; then
  log "wstest $WSTEST_VERSION already installed in $VENV"
  exit 0
fi

# ---- prerequisites ---------------------------------------------------------
if [ ! -x "$PYTHON2" ]; then
  echo "[autobahn] ERROR: Python 2.7 interpreter not found at $PYTHON2 (set PYTHON2)" >&2
  exit 1
fi
if ! "$PYTHON2" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (2, 7) else 1)'; then
  echo "[autobahn] ERROR: $PYTHON2 is not Python 2.7" >&2
  exit 1
fi

# C toolchain for extensions that may need compiling (wsaccel, ujson, cffi, ...).
if ! command -v gcc >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    log "installing gcc (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq gcc libc6-dev >/dev/null
  else
    echo "[autobahn] ERROR: gcc not found" >&2
    exit 1
  fi
fi
PY2_INCLUDE="$("$PYTHON2" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
if [ ! -f "$PY2_INCLUDE/Python.h" ]; then
  echo "[autobahn] ERROR: Python.h missing in $PY2_INCLUDE (Python 2.7 headers needed)" >&2
  exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
LOGFILE="$WORK/install.log"

# Run a command with output captured; on failure show the tail of the log.
run() {
  if ! "$@" >"$LOGFILE" 2>&1; then
    echo "[autobahn] ERROR: command failed: $*" >&2
    tail -n 40 "$LOGFILE" >&2
    exit 1
  fi
}

# ---- virtualenv 16.7.12 (last one that creates Python 2.7 venvs) ----------
log "fetching virtualenv==16.7.12"
VENV_PKG="$WORK/virtualenv"
if ! "$PYTHON2" -m pip install -q --target "$VENV_PKG" virtualenv==16.7.12 >"$LOGFILE" 2>&1; then
  rm -rf "$VENV_PKG"
  if command -v python3 >/dev/null 2>&1; then
    log "python2 pip failed, retrying with python3 pip"
    run python3 -m pip install -q --target "$VENV_PKG" virtualenv==16.7.12
  else
    echo "[autobahn] ERROR: could not install virtualenv with $PYTHON2's pip" >&2
    tail -n 40 "$LOGFILE" >&2
    exit 1
  fi
fi

log "creating Python 2.7 venv in $VENV"
rm -rf "$VENV"
run env PYTHONPATH="$VENV_PKG" "$PYTHON2" -m virtualenv --no-download -p "$PYTHON2" "$VENV"
VPY="$VENV/bin/python"

# ---- pinned packages -------------------------------------------------------
for step in "${STEPS[@]}"; do
  flags="${step%%|*}"
  reqs="${step#*|}"
  log "pip install $reqs"
  # shellcheck disable=SC2086
  run "$VPY" -m pip install --no-deps $flags $reqs
done

# ---- verification ----------------------------------------------------------
VERSION_OUT="$("$VENV/bin/wstest" -a 2>&1 || true)"
if ! grep -q "$WSTEST_VERSION" <<<"$VERSION_OUT"; then
  echo "[autobahn] ERROR: wstest -a did not report $WSTEST_VERSION:" >&2
  echo "$VERSION_OUT" >&2
  exit 1
fi
if ! "$VPY" -c 'import wsaccel.utf8validator' >/dev/null 2>&1; then
  echo "[autobahn] ERROR: wsaccel UTF-8 validator not importable in the venv" >&2
  exit 1
fi
printf '%s' "$STAMP_CONTENT" >"$STAMP"
log "done: $(grep "$WSTEST_VERSION" <<<"$VERSION_OUT" | head -n 1) in $VENV"
