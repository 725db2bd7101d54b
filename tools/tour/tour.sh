#!/usr/bin/env bash
# One step of the tour, run by tools/demo.sh INSIDE the step's network namespace:
#   ip netns exec NS bash tools/tour/tour.sh N
# The steps are tools/tour/N-*.sh, each defining step_N (helpers: tools/tour/lib.sh). Step 0 runs
# only in watch mode (make demo WATCH=1): a stack serving the page while the viewer opens it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
n=${1:?step number}
step_file=$(echo "$here/$n"-*.sh)
[[ -f $step_file ]] || { echo "tour: no step $n" >&2; exit 2; }
. "$step_file"

trap tour_cleanup EXIT
# Ctrl-C reaches every process of the terminal's group at once; ours stop, and this shell stops
# what is left of them (by PID) before tools/demo.sh removes the namespace.
trap 'exit 130' INT
trap 'exit 143' TERM
"step_$n"
