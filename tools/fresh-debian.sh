#!/usr/bin/env bash
# A newcomer's fresh machine: the README's two commands, run as written (demo first) on a minimal
# Debian bookworm with nothing added but make and sudo, in a fresh clone of this repository.
# CI runs it (.ci/run); it needs root on a Debian/Ubuntu host (debootstrap, chroot, mounts).
#
#   tools/fresh-debian.sh [REPO]      (default: the repository this script belongs to)
#
# What it does:
#   - debootstraps `--variant=minbase bookworm` (plus make and sudo) once into a cache directory;
#   - for each run, stacks an overlay on that base, so every run starts from the untouched base
#     (what a run installs or builds is thrown away with it);
#   - clones REPO (its committed HEAD) into /home/newcomer/tapstack, for a user "newcomer" who may
#     use sudo, and runs, as that user:  sudo make demo  then  sudo make test;
#   - mounts proc, sys, dev and a fresh /run so that network namespaces and taps work inside;
#   - checks that the demo left nothing behind (no namespace, no process);
#   - prints the tail of each log, and fails where one fails. Mounts and the run's files are
#     removed on exit, also on failure or Ctrl-C.
#
# Environment:
#   FRESH_CACHE    where the base system is kept (default /var/cache/tapstack-fresh)
#   FRESH_MIRROR   Debian mirror (default: the host's own, else http://deb.debian.org/debian)
#   FRESH_AS=root  run the commands as root without sudo (make demo, make test)
#   FRESH_LOGS     where the logs are copied (default REPO/build/fresh-debian)
#   FRESH_TIMEOUT  seconds allowed per command (default 2400)
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "${1:-$here}" && pwd) || exit 2
cache=${FRESH_CACHE:-/var/cache/tapstack-fresh}
base=$cache/bookworm-minbase
limit=${FRESH_TIMEOUT:-2400}
logs=${FRESH_LOGS:-$repo/build/fresh-debian}
as=${FRESH_AS:-sudo}
t0=$SECONDS

say() { echo "fresh-debian: $*"; }
die() { echo "fresh-debian: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot and mounts): sudo $0 $*"
[[ -d $repo/.git || -f $repo/.git ]] || die "$repo is not a git repository"
command -v git >/dev/null || die "git is needed on the host to clone $repo"

# ---- the base system, made once
if [[ ! -f $base/.complete ]]; then
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap on the host"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } ||
            die "cannot install debootstrap"
    fi
    mirror=${FRESH_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)}
    mirror=${mirror:-http://deb.debian.org/debian}
    say "debootstrap --variant=minbase bookworm from $mirror into $base (once)"
    mkdir -p "$cache"
    rm -rf "$base.new"
    debootstrap --variant=minbase --include=make,sudo bookworm "$base.new" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || { tail -n 5 "$cache/debootstrap.log"; die "debootstrap failed (log: $cache/debootstrap.log)"; }
    # The base keeps nothing of the host's but name resolution (apt needs it).
    cp /etc/resolv.conf "$base.new/etc/resolv.conf" 2>/dev/null
    touch "$base.new/.complete"
    rm -rf "$base"
    mv "$base.new" "$base"
    say "base ready after $((SECONDS - t0)) s"
fi

# ---- this run: an overlay on the base, mounts, a user, a clone
run=$(mktemp -d "$cache/run.XXXXXX")
root=$run/root
mounted=()
cleanup() {
    local p m i
    # Whatever still runs inside this run's root (only what this script started can): stop it.
    for p in /proc/[0-9]*; do
        [[ $(readlink "$p/root" 2>/dev/null) == "$root"* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
    done
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        m=${mounted[i]}
        umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null
    done
    rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$run/upper" "$run/work" "$root"
if mount -t overlay overlay -o "lowerdir=$base,upperdir=$run/upper,workdir=$run/work" "$root" 2>/dev/null; then
    mounted+=("$root")
else
    # No overlayfs: a copy, and the root must still be a mount point of its own for `ip netns`.
    say "no overlayfs here: copying the base"
    cp -a "$base/." "$root/"
    mount --bind "$root" "$root" && mounted+=("$root")
fi
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
# Slaves: an unmount inside never travels back to the host's /sys or /dev.
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" && mounted+=("$root/sys")
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" && mounted+=("$root/dev")
mount -t tmpfs -o mode=755 tmpfs "$root/run" && mounted+=("$root/run")
[[ ${#mounted[@]} -eq 5 ]] || die "could not mount what the chroot needs"

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
in_root useradd -m -s /bin/bash newcomer || die "cannot add the user newcomer"
echo 'newcomer ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/newcomer"
chmod 440 "$root/etc/sudoers.d/newcomer"
uid=$(in_root id -u newcomer)
git clone -q "$repo" "$root/home/newcomer/tapstack" || die "git clone $repo failed"
chown -R "$uid:$uid" "$root/home/newcomer"
say "a fresh clone of $(git -C "$repo" log -1 --format='%h %s' | cut -c1-70)"

mkdir -p "$logs"
rc=0
for cmd in "make demo" "make test"; do
    if [[ $as == root ]]; then
        shown=$cmd
        run_cmd=(chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
            bash -lc "cd /home/newcomer/tapstack && $cmd")
    else
        shown="sudo $cmd"
        run_cmd=(chroot "$root" /usr/sbin/runuser -u newcomer -- /usr/bin/env -i HOME=/home/newcomer
            TERM=dumb PATH=/usr/local/bin:/usr/bin:/bin bash -lc "cd ~/tapstack && sudo $cmd")
    fi
    log=$logs/${cmd// /-}.log
    start=$SECONDS
    timeout --kill-after=30 "$limit" "${run_cmd[@]}" </dev/null >"$log" 2>&1
    r=$?
    secs=$((SECONDS - start))
    echo "== $shown: exit status $r after $((secs / 60)) min $((secs % 60)) s (log: $log)"
    tail -n "$([[ $r -eq 0 ]] && echo 12 || echo 80)" "$log" | sed 's/^/   | /'
    [[ $r -eq 0 ]] || rc=1
    if [[ $cmd == "make demo" ]]; then
        # It must leave nothing behind: no namespace, no process.
        left=$(ls "$root/run/netns" 2>/dev/null)
        [[ -z $left ]] || { echo "== the demo left network namespaces behind: $left"; rc=1; }
        for p in /proc/[0-9]*; do
            if [[ $(readlink "$p/root" 2>/dev/null) == "$root"* ]]; then
                echo "== the demo left a process behind: $(tr '\0' ' ' <"$p/cmdline")"
                rc=1
            fi
        done
    fi
done
echo "fresh-debian: $([[ $rc -eq 0 ]] && echo passed || echo FAILED) in $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"
exit $rc
