/* A statically linked program (the Makefile links it with -static): LD_PRELOAD cannot reach it,
 * and tapstack-run must refuse it in one line rather than let its sockets go to the kernel. */
#include <stdio.h>

int main(void)
{
    puts("a static program ran");
    return 0;
}
