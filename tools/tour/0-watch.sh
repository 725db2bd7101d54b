# shellcheck shell=bash
# Step 0, in watch mode only (make demo WATCH=1): a stack that serves the live TCP page and does
# nothing else, up until the viewer has opened the page in a browser and pressed Enter. The steps
# after it replace the stack at the same address; the page notices each new one and starts afresh.
step_0() {
    # shellcheck disable=SC2034 # the page's title (start_stack)
    TOUR_TITLE="make demo WATCH=1: the tour starts when you press Enter in its terminal"
    start_stack
    printf '%s(a stack is up at 10.0.0.2, serving the page; it runs no lesson)%s\n' "$D" "$N"
    watch_end "When the page shows the state diagram, press Enter to start the tour."
    stop_stack
}
