#!/usr/bin/env bash
# armlprof's one entry point on a fresh Debian/Ubuntu machine. Idempotent set-up, then:
#   ./armlprof.sh test            run every test: ruff, then pytest (which runs the Robot suites on both boards)
#   ./armlprof.sh <command> ...   run `armlprof <command> ...` in the caller's folder (e.g. `./armlprof.sh study`)
# Set-up: the ARM GNU toolchain and a host C compiler (apt, when missing), a virtual environment in .venv with
# armlprof and its dependencies (re-installed only when pyproject.toml changes).
set -euo pipefail
CALLER=$(pwd)  # `armlprof <command>` runs here: relative paths and the default results.jsonl are the caller's
cd "$(dirname "$0")"
ROOT=$(pwd)
VENV="$ROOT/.venv"
APT_PACKAGES=(gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)

say() { printf 'armlprof.sh: %s\n' "$*" >&2; }

apt_install() {
  local runner=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then runner=(sudo); else
      say "missing: $*; install it: sudo apt-get install -y $*"; exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then say "missing: $*; this is not a Debian/Ubuntu machine: install them with your package manager"; exit 1; fi
  say "installing $* (apt)"
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

toolchain_ok() {
  command -v arm-none-eabi-g++ >/dev/null 2>&1 || return 1
  local nano
  nano=$(arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb --specs=nano.specs -print-file-name=libstdc++_nano.a 2>/dev/null)
  [ -f "$nano" ]
}

setup() {
  toolchain_ok || apt_install "${APT_PACKAGES[@]}"
  command -v cc >/dev/null 2>&1 || apt_install gcc  # the emulator's native timing hook is compiled on first use
  if [ ! -x "$VENV/bin/python" ]; then
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "Python >= 3.11 is needed"; exit 1; }
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
  fi
  local stamp="$VENV/.armlprof-installed" want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing armlprof and its Python dependencies into .venv"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".[dev]"
    echo "$want" >"$stamp"
  fi
}

setup
export PATH="$VENV/bin:$PATH"
case "${1:-}" in
  test)
    shift
    status=0
    ruff check armlprof tests benchmarks || status=1
    python -m pytest -q "$@" || status=1
    exit $status
    ;;
  "")
    cd "$CALLER"
    armlprof --help
    ;;
  *)
    cd "$CALLER"
    exec armlprof "$@"
    ;;
esac
