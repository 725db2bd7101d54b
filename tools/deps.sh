#!/usr/bin/env bash
# Make sure the Debian packages tapstack needs are installed.
#
#   tools/deps.sh [demo|test]     (default: test)
#
# As root, missing packages are installed with apt-get; otherwise the exact apt-get line is
# printed and the script fails. On a machine without dpkg it only checks the commands it needs.
set -euo pipefail

what=${1:-test}
case "$what" in
demo) pkgs=(gcc make pkg-config check iproute2 iputils-ping) ;;
test) pkgs=(gcc make pkg-config check iproute2 iputils-ping iputils-arping tcpdump tshark
      netcat-openbsd socat curl apache2-utils wrk python3 python3-scapy iptables valgrind clang-format
      libc6-dev iperf3 nginx-light wget) ;;
*) echo "usage: tools/deps.sh [demo|test]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null; then
    for c in gcc make pkg-config ip ping; do
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
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
