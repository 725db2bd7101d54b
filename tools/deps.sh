#!/usr/bin/env bash
# Make sure the Debian packages a make target needs are installed, before anything is compiled.
#
#   tools/deps.sh build|demo|run|test     (default: test)
#   tools/deps.sh --list PURPOSE           print the packages of PURPOSE, one per line
#
#   build  the compiler and the C library headers (gcc alone, with --no-install-recommends, has
#          no stdint.h or pthread.h: that is libc6-dev)
#   demo   build + what `make demo` runs on the host side: ip/ss, ping, curl, nc
#   run    build + ip for `make run`, and curl/nc/ping to try the servers
#   test   build + libcheck (unit tests) + every tool the integration tests drive
#
# As root, missing packages are installed with apt-get; otherwise the exact apt-get line is
# printed and the script fails. On a machine without dpkg it only checks the commands it needs.
set -euo pipefail

list=
if [[ ${1:-} == --list ]]; then
    list=1
    shift
fi
what=${1:-test}
build=(make gcc libc6-dev)
host=(iproute2 iputils-ping curl netcat-openbsd)
case "$what" in
build) pkgs=("${build[@]}") cmds=(make gcc) ;;
demo | run) pkgs=("${build[@]}" "${host[@]}") cmds=(make gcc ip ss ping curl nc) ;;
test)
    pkgs=("${build[@]}" "${host[@]}" pkg-config check iputils-arping tcpdump tshark socat
        apache2-utils wrk python3 python3-scapy iptables valgrind clang-format chromium
        fonts-dejavu-core iperf3 nginx-light wget ethtool)
    cmds=(make gcc pkg-config ip ss ping curl nc)
    ;;
*) echo "usage: tools/deps.sh [--list] build|demo|run|test" >&2; exit 2 ;;
esac

if [[ -n $list ]]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi

if ! command -v dpkg-query >/dev/null; then
    for c in "${cmds[@]}"; do
        command -v "$c" >/dev/null || { echo "deps: '$c' is missing: install it with your package manager" >&2; exit 1; }
    done
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $st == *" installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: install them with: sudo apt-get update && sudo $line" >&2
    exit 1
fi
# Root needs no sudo (a minimal Debian has none): apt-get is called directly.
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
