#!/usr/bin/env bash
# Provision the real llama-server test tier: a Debian unstable chroot with llama.cpp-tools,
# python3-gguf and python3-numpy, two tiny random-weight GGUF models in <chroot>/models, and a
# description of it all in <chroot>/siesta-llama.json (what the tests read) and
# <chroot>/siesta-llama.env (for shells). See test/real/README.md.
#
# Usage: scripts/provision-llama.sh [--check] [--rebuild] [--unmount]
#   --check    also run the smoke test (each model alone, then router mode) when nothing changed
#   --rebuild  throw the chroot away and build it again
#   --unmount  unmount everything under the chroot (it stays provisioned; the next run remounts /proc)
# Environment:
#   SIESTA_LLAMA_CHROOT   where the chroot lives (default /var/cache/siesta/llama-chroot)
#   SIESTA_DEBIAN_MIRROR  Debian mirror to use (default: the first plain Debian mirror in the host's apt sources)
#
# Needs root (debootstrap, chroot, mount) and debootstrap on the host. Safe to re-run: when the
# chroot is valid (llama-server --version runs in it, the models match the generator) it only
# makes sure /proc is mounted, which router mode needs, and exits within a second.
set -euo pipefail

CHROOT=${SIESTA_LLAMA_CHROOT:-/var/cache/siesta/llama-chroot}
CHROOT=${CHROOT%/}
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SUITE=unstable
PACKAGES=(llama.cpp-tools python3-gguf python3-numpy)
LLAMA_SERVER=/usr/bin/llama-server
MODELS_DIR=/models
MODELS=(tiny-a tiny-b)   # model i is written with random seed i+1
HELPERS=(make-tiny-gguf.py llama-smoke.py)
MARKER=.siesta-llama-chroot
JSON=siesta-llama.json
ENVFILE=siesta-llama.env

# Turn SIGTERM/SIGINT (e.g. from timeout(1)) into a normal exit so the EXIT trap cleans up.
trap 'exit 143' TERM
trap 'exit 130' INT

log() { printf '[provision-llama %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

check=false rebuild=false unmount_only=false
for arg in "$@"; do
  case $arg in
    --check) check=true ;;
    --rebuild) rebuild=true ;;
    --unmount) unmount_only=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

[[ $CHROOT == /?* ]] || die "SIESTA_LLAMA_CHROOT must be an absolute path other than / (got '$CHROOT')"
[[ $(id -u) -eq 0 ]] || die "must run as root: debootstrap, chroot and mount need it"

ROOT_ENV=SIESTA_LLAMA_CHROOT
# mounts_under, unmount_under, check_ours, remove_root_dir, host_apt_uris, pick_mirror
# shellcheck source=lib/debian-root.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-root.sh"

ensure_proc() {
  if ! mountpoint -q "$1/proc"; then
    mount -t proc proc "$1/proc" || die "cannot mount /proc in $1 (router mode needs it)"
  fi
}

models_stamp() {
  sha256sum <"$SCRIPTS/make-tiny-gguf.py" | cut -d' ' -f1
}

llama_version() {
  chroot "$1" "$LLAMA_SERVER" --version 2>&1 | sed -n 's/^version: //p' | head -n 1
}

base_is_valid() {
  [[ -e $1/$MARKER ]] &&
    [[ -n $(llama_version "$1") ]] &&
    chroot "$1" python3 -c 'import gguf, numpy' 2>/dev/null
}

models_are_valid() {
  local m
  [[ $(cat "$1$MODELS_DIR/.stamp" 2>/dev/null) == "$(models_stamp)" ]] || return 1
  for m in "${MODELS[@]}"; do [[ -s $1$MODELS_DIR/$m.gguf ]] || return 1; done
}

build_base() {
  local build=$CHROOT.building mirror keyring=() started=$SECONDS
  mirror=$(pick_mirror)
  [[ -n $mirror ]] || die "no plain Debian mirror (http(s)://.../debian) in /etc/apt/sources.list{,.d/*}; set SIESTA_DEBIAN_MIRROR"
  command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
  # debootstrap fetches with wget, which does not read apt's proxy settings.
  local proxy=
  eval "$(apt-config shell proxy Acquire::http::Proxy 2>/dev/null || true)"
  if [[ -n $proxy && -z ${http_proxy:-} ]]; then export http_proxy=$proxy; fi

  remove_root_dir "$build"
  # A failed build must not leave /proc mounted in a half-made tree.
  trap 'unmount_under "$CHROOT.building"; rm -rf --one-file-system "$CHROOT.building"' EXIT
  mkdir -p "$build"
  touch "$build/$MARKER"
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
  log "debootstrap $SUITE from $mirror into $build (about 35 s)"
  if ! debootstrap --variant=minbase --components=main "${keyring[@]}" "$SUITE" "$build" "$mirror" >"$build.log" 2>&1; then
    if grep -qiE 'signature|signed by|gpg|keyring|NO_PUBKEY' "$build.log"; then
      log "WARNING: the host keyring cannot verify $SUITE's Release file; retrying with --no-check-gpg"
      log "WARNING: (apt inside the chroot still checks signatures with the chroot's own keyring)"
      remove_root_dir "$build"; mkdir -p "$build"; touch "$build/$MARKER"
      debootstrap --variant=minbase --components=main --no-check-gpg "$SUITE" "$build" "$mirror" >"$build.log" 2>&1 ||
        { tail -n 20 "$build.log" >&2; die "debootstrap failed (log: $build.log)"; }
    else
      tail -n 20 "$build.log" >&2
      die "debootstrap failed (log: $build.log)"
    fi
  fi

  # Unstable's Release file may be past its Valid-Until on a frozen mirror or clock.
  cat >"$build/etc/apt/apt.conf.d/90siesta" <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Retries "3";
Acquire::Languages "none";
APT::Install-Recommends "false";
EOF
  [[ -n $proxy ]] && printf 'Acquire::http::Proxy "%s";\n' "$proxy" >>"$build/etc/apt/apt.conf.d/90siesta"
  ensure_proc "$build"
  log "apt-get install ${PACKAGES[*]} (about 25 s)"
  {
    chroot "$build" apt-get update &&
      DEBIAN_FRONTEND=noninteractive chroot "$build" apt-get install -y "${PACKAGES[@]}" &&
      chroot "$build" apt-get clean
  } >>"$build.log" 2>&1 || { tail -n 20 "$build.log" >&2; die "apt-get in the chroot failed (log: $build.log)"; }
  rm -rf "$build"/var/lib/apt/lists/*
  base_is_valid "$build" || die "llama-server or python3-gguf does not run in the new chroot (log: $build.log)"

  unmount_under "$build"
  remove_root_dir "$CHROOT"
  mv "$build" "$CHROOT"
  trap - EXIT
  mv "$build.log" "$CHROOT/var/log/siesta-provision.log"
  printf '%s\n' "$mirror" >"$CHROOT/etc/siesta-mirror"
  log "chroot built in $((SECONDS - started)) s ($(du -sh --one-file-system "$CHROOT" | cut -f1))"
}

write_models() {
  local i m stamp
  stamp=$(models_stamp)
  mkdir -p "$CHROOT/opt/siesta" "$CHROOT$MODELS_DIR"
  for i in "${!MODELS[@]}"; do
    m=${MODELS[$i]}
    chroot "$CHROOT" python3 /opt/siesta/make-tiny-gguf.py "$MODELS_DIR/.$m.gguf.tmp" "$m" "$((i + 1))" ||
      die "writing $m.gguf failed"
    mv "$CHROOT$MODELS_DIR/.$m.gguf.tmp" "$CHROOT$MODELS_DIR/$m.gguf"
  done
  printf '%s\n' "$stamp" >"$CHROOT$MODELS_DIR/.stamp"
  log "wrote ${MODELS[*]/%/.gguf} into $CHROOT$MODELS_DIR"
}

json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

write_descriptions() {
  local version=$1 m sep='' models_json='' tmp
  for m in "${MODELS[@]}"; do
    models_json+="$sep$(json_string "$m"): $(json_string "$MODELS_DIR/$m.gguf")"
    sep=', '
  done
  tmp=$CHROOT/.$JSON.tmp
  cat >"$tmp" <<EOF
{
  "chroot": $(json_string "$CHROOT"),
  "llamaServer": $(json_string "$LLAMA_SERVER"),
  "command": ["chroot", $(json_string "$CHROOT"), $(json_string "$LLAMA_SERVER")],
  "modelsDir": $(json_string "$MODELS_DIR"),
  "models": { $models_json },
  "version": $(json_string "$version"),
  "mirror": $(json_string "$(cat "$CHROOT/etc/siesta-mirror" 2>/dev/null)"),
  "provisionedAt": $(json_string "$(date -u +%Y-%m-%dT%H:%M:%SZ)")
}
EOF
  mv "$tmp" "$CHROOT/$JSON"
  cat >"$CHROOT/$ENVFILE" <<EOF
# Written by scripts/provision-llama.sh; source it from a shell.
SIESTA_LLAMA_CHROOT=$(printf '%q' "$CHROOT")
SIESTA_LLAMA_SERVER="chroot \$SIESTA_LLAMA_CHROOT $LLAMA_SERVER"
SIESTA_LLAMA_MODELS_DIR=$MODELS_DIR
SIESTA_LLAMA_VERSION=$(printf '%q' "$version")
EOF
}

mkdir -p "$(dirname "$CHROOT")"
exec 9>"$CHROOT.lock"
if ! flock -n 9; then
  log "another provisioning holds $CHROOT.lock; waiting (up to 10 min)"
  flock -w 600 9 || die "timed out waiting for $CHROOT.lock"
fi

if $unmount_only; then
  unmount_under "$CHROOT"
  log "unmounted everything under $CHROOT"
  exit 0
fi

check_ours "$CHROOT"
started=$SECONDS
# siesta-llama.json exists only while the tier is known to work: it goes before any repair and
# comes back after the smoke test, so tests mark themselves pending instead of meeting a broken tier.
unpublish() { rm -f "$CHROOT/$JSON" "$CHROOT/$ENVFILE"; }
changed=false
if $rebuild || ! base_is_valid "$CHROOT"; then
  $rebuild || [[ ! -e $CHROOT ]] || log "existing $CHROOT is not a working chroot; rebuilding it"
  [[ -e $CHROOT ]] && unpublish
  build_base
  changed=true
fi
ensure_proc "$CHROOT"
# The generator and smoke test run inside the chroot; keep the copies there current.
mkdir -p "$CHROOT/opt/siesta"
for helper in "${HELPERS[@]}"; do
  cmp -s "$SCRIPTS/$helper" "$CHROOT/opt/siesta/$helper" || install -m 0755 "$SCRIPTS/$helper" "$CHROOT/opt/siesta/$helper"
done
if ! models_are_valid "$CHROOT"; then
  unpublish
  write_models
  changed=true
fi
if [[ ! -s $CHROOT/$JSON ]] || ! grep -qF "\"chroot\": $(json_string "$CHROOT")," "$CHROOT/$JSON"; then
  changed=true
fi
version=$(llama_version "$CHROOT")
[[ -n $version ]] || { unpublish; die "llama-server --version failed in $CHROOT"; }

if $changed || $check; then
  log "smoke test: each model alone, then router mode"
  if ! chroot "$CHROOT" python3 /opt/siesta/llama-smoke.py "$MODELS_DIR" "${MODELS[@]}" >&2; then
    unpublish
    die "smoke test failed: llama-server does not serve the tiny models"
  fi
fi
$changed && write_descriptions "$version"

$changed && state="provisioned" || state="already provisioned (no-op)"
cat <<EOF
llama-server tier $state in $((SECONDS - started)) s
  chroot:      $CHROOT
  version:     llama-server $version
  models dir:  $MODELS_DIR (host: $CHROOT$MODELS_DIR): ${MODELS[*]/%/.gguf}
  one model:   chroot $CHROOT $LLAMA_SERVER -m $MODELS_DIR/${MODELS[0]}.gguf --host 127.0.0.1 --port 8080
  router mode: chroot $CHROOT $LLAMA_SERVER --models-dir $MODELS_DIR --models-max 1 --host 127.0.0.1 --port 8080
  described:   $CHROOT/$JSON, $CHROOT/$ENVFILE
EOF
