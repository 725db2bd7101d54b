/* Wire-trace scripts for the raw-peer fixture (tcp_fixture.h), in the manner of packetdrill: a test
 * reads like the trace it checks. One line per event, the virtual time first, in milliseconds from
 * the start of the script (the clock is run up to it, timers firing on the way):
 *
 *     0      write 10000                 the application queues 10000 bytes
 *     0      > 1:1001                    the stack sends data [1, 1001) at 0 ms
 *     0      > 9001:10001 F              ... with FIN
 *     1      < ack 1 sack 1001:3001      the peer ACKs 1 with a SACK block (win W: its window)
 *     1      < data 1:101 ack 1001       the peer sends 100 bytes, ACKing 1001
 *     1      > ack 101 sack 1:101        the stack sends a pure ACK of 101 with this D-SACK
 *     1      > none                      nothing more was sent by then
 *     12.5   shutdown                    the application shuts down the sending side
 *
 * Sequence numbers are relative to each side's ISN (the first data byte is 1). A `>` line takes
 * the next segment the stack sent (running the clock 0.05 ms past the line's time) and checks its
 * time (to 0.05 ms), flags, numbers and length; a
 * pure ACK must be expected like any segment. Lines starting with # are comments. */
#ifndef TCP_SCRIPT_H
#define TCP_SCRIPT_H

#include "tcp_fixture.h"

/* Run script on f (established, f->conn the connection under test), from f->now. Fails the test
 * at the first line that does not hold, naming it. */
#define tf_script(f, script) tf_script_at(__FILE__, __LINE__, f, script)

/* Ten segments of 1000 bytes leave at 0 (IW 10), as the scripts of
 * several tests begin. */
#define TF_TEN_SEGMENTS_AT_0                                                                       \
    "0 > 1:1001\n"                                                                                 \
    "0 > 1001:2001\n"                                                                              \
    "0 > 2001:3001\n"                                                                              \
    "0 > 3001:4001\n"                                                                              \
    "0 > 4001:5001\n"                                                                              \
    "0 > 5001:6001\n"                                                                              \
    "0 > 6001:7001\n"                                                                              \
    "0 > 7001:8001\n"                                                                              \
    "0 > 8001:9001\n"                                                                              \
    "0 > 9001:10001\n"
void tf_script_at(const char *file, int line, struct tf *f, const char *script);

#endif
