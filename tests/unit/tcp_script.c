/* Wire-trace scripts for the raw-peer fixture: see tcp_script.h. */
#include "tcp_script.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_SLACK 50 /* us: how far a segment's time may be from its line's */

struct ts_line {
    const char *file;
    int line, sline; /* the test's line, the script's line */
    char text[256];
};

/* "L:R" into two numbers relative to base. */
static bool sc_range(const char *tok, uint32_t base, uint32_t *l, uint32_t *r)
{
    unsigned long a, b;
    if (!tok || sscanf(tok, "%lu:%lu", &a, &b) != 2)
        return false;
    *l = base + (uint32_t)a;
    *r = base + (uint32_t)b;
    return true;
}

/* The rest of a "<" or "> ack" line: sack L:R ... and win W, into h. */
static void sc_opts(const struct ts_line *ln, char **save, struct tcp_hdr *h, uint32_t base)
{
    char *tok;
    bool in_sack = false;
    while ((tok = strtok_r(NULL, " \t", save))) {
        uint32_t l, r;
        if (!strcmp(tok, "sack")) {
            in_sack = true;
        } else if (!strcmp(tok, "win")) {
            tok = strtok_r(NULL, " \t", save);
            ck_assert_msg(tok, "%s:%d: script line %d: win without a value", ln->file, ln->line,
                          ln->sline);
            h->wnd = (uint16_t)strtoul(tok, NULL, 10);
            in_sack = false;
        } else if (in_sack && sc_range(tok, base, &l, &r) && h->opts.nsack < TCP_MAX_SACK) {
            h->opts.sack[h->opts.nsack].left = l;
            h->opts.sack[h->opts.nsack].right = r;
            h->opts.nsack++;
        } else {
            ck_abort_msg("%s:%d: script line %d: cannot read \"%s\"", ln->file, ln->line, ln->sline,
                         tok);
        }
    }
}

/* "< ack A ..." or "< data L:R ack A ...": the peer sends. */
static void sc_peer(struct tf *f, const struct ts_line *ln, char **save)
{
    char *tok = strtok_r(NULL, " \t", save);
    uint32_t sbase = f->stack_iss, pbase = f->peer_iss;
    uint32_t l = f->peer_nxt, r = f->peer_nxt;
    if (tok && !strcmp(tok, "data")) {
        ck_assert_msg(sc_range(strtok_r(NULL, " \t", save), pbase, &l, &r),
                      "%s:%d: script line %d: data needs L:R", ln->file, ln->line, ln->sline);
        tok = strtok_r(NULL, " \t", save);
    }
    ck_assert_msg(tok && !strcmp(tok, "ack"), "%s:%d: script line %d: expected ack", ln->file,
                  ln->line, ln->sline);
    uint32_t ack = sbase + (uint32_t)strtoul(strtok_r(NULL, " \t", save), NULL, 10);
    struct tcp_hdr h = tf_hdr(f, (uint8_t)(TCP_ACK | (r != l ? TCP_PSH : 0)), l, ack);
    sc_opts(ln, save, &h, sbase);
    static uint8_t buf[65536];
    if (r != l) {
        tf_fill(buf, r - l, 9, l - pbase - 1);
        h.payload = buf;
        h.payload_len = r - l;
        if ((int32_t)(r - f->peer_nxt) > 0)
            f->peer_nxt = r;
    }
    if ((int32_t)(ack - f->stack_nxt) > 0)
        f->stack_nxt = ack;
    tf_send_hdr(f, &h);
}

/* "> L:R [F]", "> ack A [sack ...]" or "> none": what the stack sent. */
static void sc_expect(struct tf *f, const struct ts_line *ln, char **save, ts_time_t t,
                      ts_time_t t0)
{
    char *tok = strtok_r(NULL, " \t", save);
    ck_assert_msg(tok, "%s:%d: script line %d: > what?", ln->file, ln->line, ln->sline);
    struct tf_seg *sg = tf_next(f);
    char fl[10];
    if (!strcmp(tok, "none")) {
        ck_assert_msg(!sg, "%s:%d: script line %d \"%s\": got [%s] %u:%u ack %u at %.3f ms",
                      ln->file, ln->line, ln->sline, ln->text,
                      sg ? tf_flags_str(sg->h.flags, fl) : "", sg ? sg->h.seq - f->stack_iss : 0,
                      sg ? sg->h.seq - f->stack_iss + (uint32_t)sg->h.payload_len : 0,
                      sg ? sg->h.ack - f->peer_iss : 0, sg ? (double)(sg->t - t0) / 1000.0 : 0);
        return;
    }
    ck_assert_msg(sg, "%s:%d: script line %d \"%s\": the stack sent nothing", ln->file, ln->line,
                  ln->sline, ln->text);
    struct tcp_hdr want = {.flags = TCP_ACK};
    uint32_t l, r;
    bool is_ack = !strcmp(tok, "ack");
    if (is_ack) {
        want.ack = f->peer_iss + (uint32_t)strtoul(strtok_r(NULL, " \t", save), NULL, 10);
        sc_opts(ln, save, &want, f->peer_iss);
        l = r = sg->h.seq;
    } else {
        ck_assert_msg(sc_range(tok, f->stack_iss, &l, &r), "%s:%d: script line %d: L:R?", ln->file,
                      ln->line, ln->sline);
        tok = strtok_r(NULL, " \t", save);
        if (tok && !strcmp(tok, "F"))
            want.flags |= TCP_FIN; /* L:R is the data; the FIN follows it */
        want.ack = sg->h.ack;
    }
    uint8_t gf = sg->h.flags & (uint8_t)~TCP_PSH;
    bool ok = gf == want.flags && sg->h.seq == l && sg->h.payload_len == r - l &&
              sg->h.ack == want.ack && sg->t + TS_SLACK >= t && sg->t <= t + TS_SLACK;
    if (ok && is_ack) {
        ok = sg->h.opts.nsack == want.opts.nsack;
        for (unsigned i = 0; ok && i < want.opts.nsack; i++)
            ok = sg->h.opts.sack[i].left == want.opts.sack[i].left &&
                 sg->h.opts.sack[i].right == want.opts.sack[i].right;
    }
    ck_assert_msg(ok,
                  "%s:%d: script line %d \"%s\": got [%s] %u:%u ack %u (%u SACK blocks) at %.3f "
                  "ms",
                  ln->file, ln->line, ln->sline, ln->text, tf_flags_str(sg->h.flags, fl),
                  sg->h.seq - f->stack_iss, sg->h.seq - f->stack_iss + (uint32_t)sg->h.payload_len,
                  sg->h.ack - f->peer_iss, sg->h.opts.nsack, (double)(sg->t - t0) / 1000.0);
}

static void sc_line(struct tf *f, struct ts_line *ln, ts_time_t t0)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", ln->text);
    char *tok = strtok_r(buf, " \t", &save);
    if (!tok || tok[0] == '#')
        return;
    ts_time_t t = t0 + (ts_time_t)(strtod(tok, NULL) * 1000.0 + 0.5);
    tok = strtok_r(NULL, " \t", &save);
    /* A segment may leave up to TS_SLACK after its line's time: run the clock that far. */
    ts_time_t until = t + (tok && !strcmp(tok, ">") ? TS_SLACK : 0);
    if (until > f->now)
        tf_advance(f, until - f->now);
    ck_assert_msg(tok, "%s:%d: script line %d: a time and nothing else", ln->file, ln->line,
                  ln->sline);
    if (!strcmp(tok, "write")) {
        size_t n = strtoul(strtok_r(NULL, " \t", &save), NULL, 10);
        static uint8_t data[1 << 20];
        ck_assert_uint_le(n, sizeof(data));
        tf_fill(data, n, 8, 0);
        ck_assert_int_eq(ts_tcp_send(f->conn, data, n, f->now), (ssize_t)n);
    } else if (!strcmp(tok, "shutdown")) {
        ck_assert_int_eq(ts_tcp_shutdown_write(f->conn, f->now), 0);
    } else if (!strcmp(tok, "<")) {
        sc_peer(f, ln, &save);
    } else if (!strcmp(tok, ">")) {
        sc_expect(f, ln, &save, t, t0);
    } else {
        ck_abort_msg("%s:%d: script line %d: unknown \"%s\"", ln->file, ln->line, ln->sline, tok);
    }
}

void tf_script_at(const char *file, int line, struct tf *f, const char *script)
{
    ts_time_t t0 = f->now;
    struct ts_line ln = {.file = file, .line = line};
    const char *p = script;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        ln.sline++;
        snprintf(ln.text, sizeof(ln.text), "%.*s", (int)n, p);
        sc_line(f, &ln, t0);
        p += n + (e ? 1 : 0);
    }
}
