#!/usr/bin/env bash
# Build siesta's container image without any container registry: a Debian root filesystem made
# with debootstrap from Debian's packages (trixie: Node.js 20.19), siesta installed in /opt/siesta,
# turned into an OCI archive with buildah (from scratch / copy / config / commit / push).
#
# Usage: scripts/build-image.sh [--rebuild]
#   --rebuild  throw the cached Debian base away and debootstrap it again
# Environment:
#   SIESTA_IMAGE_ROOT     the root filesystem (default /var/cache/siesta/image-root); the Debian
#                         base in it is cached between runs, /opt/siesta is replaced on every run
#   SIESTA_IMAGE_ARCHIVE  the OCI archive to write (default test-artifacts/siesta-image.tar)
#   SIESTA_DEBIAN_MIRROR  Debian mirror (default: the first plain Debian mirror in the host's apt sources)
#
# Writes the archive and test-artifacts/siesta-image.json (root filesystem, archive, image name;
# what test/integration/image/image.test.ts reads). Needs root (debootstrap, chroot, buildah);
# installs debootstrap and buildah with apt-get when they are missing.
#
# How siesta gets into the image: the production node_modules is made on the host (`npm ci
# --omit=dev` with the host's npm, whose Node.js has the image's major version, 20; the one native
# piece, esbuild under tsx, is a static binary for the same architecture), and dist/ is compiled
# with the repository's own TypeScript. The image then needs no npm (Debian's npm package would add
# some 400 packages) and runs the compiled build, as an `npm ci` install does.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${SIESTA_IMAGE_ROOT:-/var/cache/siesta/image-root}
ROOT=${ROOT%/}
ARCHIVE=${SIESTA_IMAGE_ARCHIVE:-$REPO/test-artifacts/siesta-image.tar}
DESCRIPTION=$REPO/test-artifacts/siesta-image.json
SUITE=trixie                 # nodejs 20.19.x; bookworm has 18
PACKAGES=(nodejs tini)       # tini: PID 1 that forwards signals and reaps the model servers' orphans
NODE_MIN=20.19.0             # package.json "engines"
APP_DIR=/opt/siesta
APP_UID=10001                # numeric, so Kubernetes' runAsNonRoot can check it
APP_PATHS=(package.json package-lock.json README.md config.example.yaml tsconfig.json scripts/build.mjs bin lib middleware plugins fake-upstream public)
MARKER=.siesta-image-root
BASE_STAMP="suite=$SUITE packages=${PACKAGES[*]} uid=$APP_UID layout=1"

trap 'exit 143' TERM
trap 'exit 130' INT

log() { printf '[build-image %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

rebuild=false
for arg in "$@"; do
  case $arg in
    --rebuild) rebuild=true ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

[[ $ROOT == /?* ]] || die "SIESTA_IMAGE_ROOT must be an absolute path other than / (got '$ROOT')"
[[ $(id -u) -eq 0 ]] || die "must run as root: debootstrap, chroot and buildah need it"

ensure_tools() {
  local missing=() tool
  for tool in debootstrap buildah; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) && return
  log "apt-get install ${missing[*]}"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >&2 ||
    die "cannot install ${missing[*]}"
}

ROOT_ENV=SIESTA_IMAGE_ROOT
# mounts_under, unmount_under, check_ours, remove_root_dir, host_apt_uris, pick_mirror
# shellcheck source=lib/debian-root.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-root.sh"

node_version() { chroot "$1" /usr/bin/node --version 2>/dev/null | sed 's/^v//'; }

version_at_least() { [[ $(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1) == "$2" ]]; }

base_is_valid() {
  local version
  [[ -e $1/$MARKER && $(cat "$1/$MARKER") == "$BASE_STAMP" ]] || return 1
  version=$(node_version "$1")
  [[ -n $version ]] && version_at_least "$version" "$NODE_MIN" && [[ -x $1/usr/bin/tini ]]
}

build_base() {
  local build=$ROOT.building mirror keyring=() started=$SECONDS include
  mirror=$(pick_mirror)
  [[ -n $mirror ]] || die "no plain Debian mirror (http(s)://.../debian) in /etc/apt/sources.list{,.d/*}; set SIESTA_DEBIAN_MIRROR"
  local proxy=
  eval "$(apt-config shell proxy Acquire::http::Proxy 2>/dev/null || true)"
  if [[ -n $proxy && -z ${http_proxy:-} ]]; then export http_proxy=$proxy; fi

  remove_root_dir "$build"
  trap 'unmount_under "$ROOT.building"; rm -rf --one-file-system "$ROOT.building"' EXIT
  mkdir -p "$build"
  touch "$build/$MARKER"
  [[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
  include=$(IFS=,; printf '%s' "${PACKAGES[*]}")
  log "debootstrap $SUITE (+ $include) from $mirror into $build (about a minute)"
  if ! debootstrap --variant=minbase --components=main --include="$include" "${keyring[@]}" "$SUITE" "$build" "$mirror" >"$build.log" 2>&1; then
    if grep -qiE 'signature|signed by|gpg|keyring|NO_PUBKEY' "$build.log"; then
      log "WARNING: the host keyring cannot verify $SUITE's Release file; retrying with --no-check-gpg"
      remove_root_dir "$build"; mkdir -p "$build"; touch "$build/$MARKER"
      debootstrap --variant=minbase --components=main --include="$include" --no-check-gpg "$SUITE" "$build" "$mirror" >"$build.log" 2>&1 ||
        { tail -n 20 "$build.log" >&2; die "debootstrap failed (log: $build.log)"; }
    else
      tail -n 20 "$build.log" >&2
      die "debootstrap failed (log: $build.log)"
    fi
  fi
  unmount_under "$build"

  # The image's user, written directly (minbase has no adduser).
  grep -q '^siesta:' "$build/etc/group" || printf 'siesta:x:%d:\n' "$APP_UID" >>"$build/etc/group"
  grep -q '^siesta:' "$build/etc/passwd" ||
    printf 'siesta:x:%d:%d:siesta:/var/lib/siesta:/usr/sbin/nologin\n' "$APP_UID" "$APP_UID" >>"$build/etc/passwd"
  grep -q '^siesta:' "$build/etc/shadow" 2>/dev/null || printf 'siesta:!:20000::::::\n' >>"$build/etc/shadow"
  install -d -o "$APP_UID" -g "$APP_UID" -m 0750 "$build/var/lib/siesta"
  # What an image does not need: apt's caches and lists, documentation, debootstrap's leftovers.
  rm -rf "$build"/var/cache/apt/archives/*.deb "$build"/var/lib/apt/lists/* "$build"/usr/share/doc/* \
    "$build"/usr/share/man/* "$build"/usr/share/info/* "$build"/var/log/*.log "$build"/debootstrap
  printf '%s\n' "$mirror" >"$build/etc/siesta-mirror"
  printf '%s\n' "$BASE_STAMP" >"$build/$MARKER"
  base_is_valid "$build" || die "node >= $NODE_MIN or tini does not run in the new root (log: $build.log)"

  remove_root_dir "$ROOT"
  mv "$build" "$ROOT"
  trap - EXIT
  mv "$build.log" "$ROOT.debootstrap.log"
  log "Debian base built in $((SECONDS - started)) s ($(du -sh --one-file-system "$ROOT" | cut -f1), node $(node_version "$ROOT"))"
}

# siesta's files, its production node_modules and a compiled dist/, staged in $1.
stage_app() {
  local stage=$1 started_iso host_major tsc=$REPO/node_modules/typescript/bin/tsc
  host_major=$(node -p 'process.versions.node.split(".")[0]')
  [[ $host_major == "$(node_version "$ROOT" | cut -d. -f1)" ]] ||
    die "the host's Node.js ($(node --version)) is not the image's major version ($(node_version "$ROOT")): node_modules would not match"
  rm -rf "$stage"
  mkdir -p "$stage"
  # Tracked files only (no .siesta-state, logs or editor leftovers); the work tree's contents.
  if git -C "$REPO" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (
      cd "$REPO"
      git ls-files -z -- "${APP_PATHS[@]}" | while IFS= read -r -d '' f; do
        [[ -e $f ]] && printf '%s\0' "$f"   # a tracked file deleted in the work tree stays out
      done | tar --null -T - -cf - | tar -C "$stage" -xpf -
    )
  else
    (cd "$REPO" && cp -pr --parents -t "$stage" "${APP_PATHS[@]}")
  fi
  [[ -f $stage/package.json && -f $stage/bin/siesta.js ]] || die "staging $stage: package.json or bin/siesta.js missing"

  log "npm ci --omit=dev (host npm $(npm --version), node $(node --version))"
  (cd "$stage" && npm ci --omit=dev --no-audit --no-fund --loglevel=error) >&2 || die "npm ci --omit=dev failed in $stage"
  log "(\"prepare\" builds nothing in a production install, as it says; dist/ comes next)"

  # dist/: the repository's own build when it is fresh (CI's `npm ci` has just made it), else
  # compiled here with the repository's TypeScript. Sources and stamp keep their times (cp -p), so
  # bin/siesta.js in the image runs dist/ exactly when the host's would.
  if (cd "$REPO" && node -e 'import("./bin/build-freshness.js").then((m) => process.exit(m.compiledIsFresh(new URL("file://" + process.cwd() + "/")) ? 0 : 1))'); then
    log "dist/ is fresh in $REPO: copying it"
    cp -pr "$REPO/dist" "$stage/dist"
  elif [[ -f $tsc ]]; then
    log "compiling dist/ with the repository's TypeScript (the repository's dist/ is missing or stale)"
    started_iso=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
    (cd "$REPO" && node "$tsc" -p tsconfig.build.json --outDir "$stage/dist") >&2 || die "tsc failed: dist/ not built"
    printf '%s\n' "$started_iso" >"$stage/dist/.built"
    touch -d "$started_iso" "$stage/dist/.built"   # as scripts/build.mjs stamps it: the build's start
  else
    log "WARNING: no fresh dist/ and no TypeScript in $REPO/node_modules (run npm ci): the image runs the sources through tsx"
  fi
}

install_app() {
  local stage=$1
  rm -rf "${ROOT:?}"/tmp/* "${ROOT:?}"/tmp/.[!.]* "${ROOT:?}"/var/tmp/*   # e.g. what an interrupted image test left
  rm -rf "$ROOT$APP_DIR"
  cp -a "$stage" "$ROOT$APP_DIR"
  chown -R 0:0 "$ROOT$APP_DIR"
  # The demo config's default stateDir is beside it: the only place under /opt/siesta it writes.
  install -d -o "$APP_UID" -g "$APP_UID" -m 0750 "$ROOT$APP_DIR/.siesta-state"
  chmod 0755 "$ROOT$APP_DIR/bin/siesta.js"
  ln -sfn "$APP_DIR/bin/siesta.js" "$ROOT/usr/local/bin/siesta"
}

smoke_test() {
  local out
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  out=$(chroot --userspec="$APP_UID:$APP_UID" "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/siesta \
    sh -c "cd $APP_DIR && siesta check -config config.example.yaml" 2>&1) ||
    { unmount_under "$ROOT"; printf '%s\n' "$out" >&2; die "siesta check -config config.example.yaml failed inside $ROOT"; }
  unmount_under "$ROOT"
  log "siesta check in the root filesystem: ok ($(printf '%s\n' "$out" | wc -l) lines)"
}

# buildah copy makes every file root's; give back the few that are not (siesta's state directories,
# Debian's shadow/mail/utmp groups) through the container's mounted root. chown clears set-id bits:
# the mode is set again after it.
restore_owners() {
  local ctr=$1 mnt owner mode path entry
  mnt=$(buildah mount "$ctr")
  while IFS= read -r -d '' entry; do
    owner=${entry%% *} entry=${entry#* }
    mode=${entry%% *} path=${entry#* }
    chown -h "$owner" "$mnt/$path"
    [[ -L $mnt/$path ]] || chmod "$mode" "$mnt/$path"
  done < <(cd "$ROOT" && find . -xdev \( ! -uid 0 -o ! -gid 0 \) -printf '%U:%G %m %P\0')
  buildah umount "$ctr" >/dev/null
}

json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}

build_oci() {
  local version=$1 revision ctr image created started=$SECONDS
  revision=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  image=localhost/siesta:$version
  unmount_under "$ROOT"   # nothing of the host's /proc or /dev goes into the image
  ctr=$(buildah from scratch)
  # shellcheck disable=SC2064
  trap "buildah rm '$ctr' >/dev/null 2>&1 || true" EXIT
  log "buildah copy $ROOT into $ctr"
  buildah copy --quiet "$ctr" "$ROOT" / >/dev/null
  restore_owners "$ctr"
  buildah config \
    --entrypoint '["/usr/bin/tini", "-s", "--", "siesta", "-listen", ":8080"]' \
    --cmd "[\"-config\", \"$APP_DIR/config.example.yaml\"]" \
    --workingdir "$APP_DIR" \
    --env NODE_ENV=production \
    --env PATH=/usr/local/bin:/usr/bin:/bin \
    --env HOME=/var/lib/siesta \
    --port 8080/tcp \
    --user "$APP_UID:$APP_UID" \
    --stop-signal SIGTERM \
    --label org.opencontainers.image.title=siesta \
    --label "org.opencontainers.image.description=On-demand gateway for local LLM inference servers (demo config: fake upstreams)" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    --label "org.opencontainers.image.created=$created" \
    --label org.opencontainers.image.licenses=MIT \
    --label "org.opencontainers.image.base.name=debian:$SUITE" \
    "$ctr"
  rm -f "$ARCHIVE"
  mkdir -p "$(dirname "$ARCHIVE")"
  log "buildah commit $image"
  buildah commit --quiet --rm --format oci "$ctr" "$image" >/dev/null
  trap - EXIT
  log "buildah push $image oci-archive:$ARCHIVE"
  buildah push --quiet "$image" "oci-archive:$ARCHIVE:$image" >/dev/null
  buildah rmi "$image" >/dev/null 2>&1 || true   # the archive is the product; keep storage small
  log "OCI archive written in $((SECONDS - started)) s: $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
  cat >"$DESCRIPTION.tmp" <<EOF
{
  "root": $(json_string "$ROOT"),
  "archive": $(json_string "$ARCHIVE"),
  "image": $(json_string "$image"),
  "appDir": $(json_string "$APP_DIR"),
  "uid": $APP_UID,
  "node": $(json_string "$(node_version "$ROOT")"),
  "suite": $(json_string "$SUITE"),
  "revision": $(json_string "$revision"),
  "builtAt": $(json_string "$created")
}
EOF
  mv "$DESCRIPTION.tmp" "$DESCRIPTION"
}

ensure_tools
mkdir -p "$(dirname "$ROOT")" "$REPO/test-artifacts"
exec 9>"$ROOT.lock"
if ! flock -n 9; then
  log "another build holds $ROOT.lock; waiting (up to 10 min)"
  flock -w 600 9 || die "timed out waiting for $ROOT.lock"
fi
rm -f "$DESCRIPTION"   # present only while the root filesystem and the archive match
check_ours "$ROOT"
started=$SECONDS
unmount_under "$ROOT"
if $rebuild || ! base_is_valid "$ROOT"; then
  $rebuild || [[ ! -e $ROOT ]] || log "existing $ROOT is not a current base ($BASE_STAMP); rebuilding it"
  build_base
else
  log "Debian base cached in $ROOT ($SUITE, node $(node_version "$ROOT"))"
fi
stage=$ROOT.app
trap 'rm -rf "$ROOT.app"' EXIT
stage_app "$stage"
install_app "$stage"
rm -rf "$stage"
trap - EXIT
smoke_test
version=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")
build_oci "$version"
printf 'siesta image built in %d s\n  root filesystem: %s (%s)\n  OCI archive:     %s (%s)\n  described:       %s\n' \
  "$((SECONDS - started))" "$ROOT" "$(du -sh --one-file-system "$ROOT" | cut -f1)" "$ARCHIVE" "$(du -h "$ARCHIVE" | cut -f1)" "$DESCRIPTION"
