/* tcpviz: the live picture of TCP that tapstack-httpd serves about the stack it runs on.
 *
 *   GET /tcp                the page: the RFC 9293 state diagram with the connections as tokens,
 *                           the transitions, the netstat table and each connection's segment
 *                           ladder (apps/web/, embedded in the binary at build time)
 *   GET /tcp/NAME           the page's other files (script, style)
 *   GET /api/connections    the connection table (tapstack-stat -i's data) and counts per state:
 *                           ?per_state=M (at most M of each state), ?state=NAME, ?offset=&limit=
 *   GET /api/transitions    state changes numbered after ?since=N (at most ?max=M) and how often
 *                           each transition happened since start-up
 *   GET /api/segments       ?conn=ID: that connection's ladder, items after ?since=N, ?max=M
 *   GET /api/ladders        the connections that have a ladder (live and lately ended)
 *   GET /api/states         the states' names (netstat's and the RFC's) and what each means
 * Every answer of /api/ is one JSON object (an error: {"error":"..."} with 400 or 404). The
 * connection that asked is reported ("self") and every connection that asked for /tcp or /api/
 * lately is listed as a viewer ("viewers"), so the page can mark and hide its own traffic. The
 * first request for /tcp or /api/ turns the runtime's segment recording on (or tcpviz_record_now).
 *
 * Every answer of /api/ but an error also names the server instance ("instance": the process and
 * the moment tcpviz_new ran), so that a page left open across a restart of its server (the tour's
 * steps each run a new process at the same address) sees that its data is another stack's and
 * starts afresh; /api/states adds the program's name, a title and when it started. */
#ifndef TAPSTACK_APPS_TCPVIZ_H
#define TAPSTACK_APPS_TCPVIZ_H

#include <stdbool.h>
#include <stddef.h>

#include "tapstack/socket.h"

struct tcpviz;

struct tcpviz *tcpviz_new(struct ts_runtime *rt);
void tcpviz_free(struct tcpviz *v);

/* Say what serves the page (/api/states: "program", "title"; the page shows them in its header):
 * the program's name and a title for what it is doing ("tour step 2: the host connects"), NULL
 * for none. Both are copied (at most 127 bytes each). */
void tcpviz_describe(struct tcpviz *v, const char *program, const char *title);
/* Turn segment recording on now instead of at the first request, so that every connection from
 * now on has a ladder (a program watched from its start). 0, or -1 if the runtime refused. */
int tcpviz_record_now(struct tcpviz *v);

/* Does path (without its query) belong to tcpviz? */
bool tcpviz_owns(const char *path);

struct tcpviz_reply {
    int status;
    const char *ctype;
    const char *extra; /* header lines to add ("Cache-Control: ...\r\n") */
    const char *body;
    size_t len;
    char *owned; /* body, when it was allocated for this reply (free with tcpviz_reply_free) */
};
/* Answer GET path?query (query NULL: none) asked on tapstack descriptor fd (-1: unknown). */
void tcpviz_get(struct tcpviz *v, const char *path, const char *query, int fd,
                struct tcpviz_reply *r);
void tcpviz_reply_free(struct tcpviz_reply *r);

/* The files embedded from apps/web/ (build/gen/webassets.c, made by tools/embed-web.sh). */
struct web_asset {
    const char *name; /* file name: "tcp.html" */
    const unsigned char *data;
    size_t len;
};
extern const struct web_asset web_assets[]; /* ends with {NULL} */

#endif
