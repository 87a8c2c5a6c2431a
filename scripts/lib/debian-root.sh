# Helpers shared by scripts/provision-llama.sh and scripts/build-image.sh: both build and cache
# a Debian root with debootstrap, from a mirror taken from the host's own apt sources.
# Sourced, not run. The caller defines die(), MARKER (the file that marks a root as ours) and
# ROOT_ENV (the variable a user sets to move the root, named in messages).

# Mount points at or below $1, deepest first (as listed in /proc/self/mountinfo).
mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

unmount_under() {
  local m
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m" || die "cannot unmount $m"
  done
}

# Only a directory this script created (it has the marker) or an empty one may be replaced.
check_ours() {
  if [[ -e $1 && ! -e $1/$MARKER && -n $(ls -A "$1" 2>/dev/null) ]]; then
    die "$1 exists but was not made by this script (no $MARKER); remove it or set $ROOT_ENV"
  fi
}

remove_root_dir() {
  [[ -e $1 ]] || return 0
  check_ours "$1"
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

# URIs of enabled `deb` entries in the host's apt sources, one per line, in file order: one-line
# entries in *.list files and deb822 stanzas in *.sources files; comments and deb-src skipped.
host_apt_uris() {
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  awk '
    function flush(  n, i, a) {
      if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) !~ /^[ \t]*no/) {
        n = split(uris, a, /[ \t]+/)
        for (i = 1; i <= n; i++) if (a[i] != "") print a[i]
      }
      types = ""; uris = ""; enabled = ""; key = ""
    }
    FNR == 1 { flush(); deb822 = FILENAME ~ /\.sources$/ }
    /^[ \t]*#/ { next }
    deb822 && /^[ \t]*$/ { flush(); next }
    deb822 && /^[ \t]/ { if (key == "uris") uris = uris " " $0; else if (key == "types") types = types " " $0; next }
    deb822 {
      key = tolower($0); sub(/:.*/, "", key)
      value = $0; sub(/^[^:]*:[ \t]*/, "", value)
      if (key == "types") types = value; else if (key == "uris") uris = value; else if (key == "enabled") enabled = value
      next
    }
    /^[ \t]*deb[ \t]/ {
      line = $0; sub(/[ \t]#.*/, "", line); sub(/^[ \t]*deb[ \t]+/, "", line)
      if (line ~ /^\[/) sub(/^\[[^]]*\][ \t]*/, "", line)
      split(line, a, /[ \t]+/); if (a[1] != "") print a[1]
    }
    END { flush() }
  ' "${files[@]}"
}

# A plain Debian mirror: the archive root ends in /debian; security, snapshot, ports and debug
# archives do not carry unstable's current packages.
pick_mirror() {
  if [[ -n ${SIESTA_DEBIAN_MIRROR:-} ]]; then
    printf '%s\n' "${SIESTA_DEBIAN_MIRROR%/}"
    return
  fi
  host_apt_uris | grep -E '^https?://[^/]+(/[^ ]*)?/debian/?$' | grep -viE 'security|snapshot|ports|debug' | head -n 1 | sed 's#/*$##'
}
