/* libFuzzer target: one established TCP connection under mutated segments (built only by
 * `make fuzz`, tests/fuzz/libfuzzer.sh, with the unit tests' TCP fixture and tests/fuzz/shim/
 * check.h in place of libcheck).
 *
 * tests/fuzz/fuzz_stack.c sees whole frames, so few of its mutations get past the sequence checks
 * of a synchronized connection. Here the input is a configuration byte (timestamps, SACK, window
 * scale, passive or active open) and then operations whose sequence and acknowledgment numbers
 * are offsets from the connection's own: segments with any flags, window, urgent pointer, SACK
 * blocks and timestamps; raw header bytes with ports and checksum fixed; in-order data, ACKs and
 * FIN from the peer; send, receive and shutdown by the application; time passing. Every segment
 * the stack sends must parse (the fixture checks), nothing may crash, leak or loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcp/seq.h"
#include "tcp_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rd {
    const uint8_t *p;
    size_t n;
};
static uint8_t u8(struct rd *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}
static uint16_t u16(struct rd *r)
{
    return (uint16_t)(u8(r) << 8 | u8(r));
}

static void track(struct tf *f)
{
    struct tf_seg *sg;
    while ((sg = tf_next(f)) != NULL) {
        uint32_t end = sg->h.seq + (uint32_t)sg->h.payload_len + ((sg->h.flags & TCP_SYN) ? 1 : 0) +
                       ((sg->h.flags & TCP_FIN) ? 1 : 0);
        if (seq_gt(end, f->stack_nxt) && seq_lt(end - f->stack_nxt, 1u << 24))
            f->stack_nxt = end;
    }
}

static void run_one(const uint8_t *data, size_t size)
{
    static uint8_t payload[4096];
    static int init;
    if (!init) {
        for (size_t i = 0; i < sizeof payload; i++)
            payload[i] = (uint8_t)i;
        init = 1;
    }
    struct rd r = {data, size};
    struct tf *f = calloc(1, sizeof *f);
    uint8_t cfg = u8(&r);
    tf_init(f);
    if (cfg & 1) {
        f->peer_ts = true;
        f->peer_syn_opts.ts_ok = true;
    }
    if (cfg & 2)
        f->peer_syn_opts.sack_perm = true;
    if (cfg & 4) {
        f->peer_syn_opts.ws_ok = true;
        f->peer_syn_opts.ws = (uint8_t)(cfg >> 4);
    }
    if (cfg & 8)
        tf_establish_active(f);
    else
        tf_establish(f);
    int ops = 0;
    while (r.n && ops++ < 64 && f->conn) {
        uint8_t op = u8(&r);
        switch (op % 9) {
        case 0: {
            uint8_t flags = u8(&r);
            int16_t ds = (int16_t)u16(&r), da = (int16_t)u16(&r);
            struct tcp_hdr h =
                tf_hdr(f, flags, f->peer_nxt + (uint32_t)(int32_t)ds * ((op & 0x80) ? 4096 : 1),
                       f->stack_nxt + (uint32_t)(int32_t)da * ((op & 0x40) ? 4096 : 1));
            h.wnd = u16(&r);
            h.urp = u16(&r);
            uint8_t ns = u8(&r) % 5;
            h.opts.nsack = ns > TCP_MAX_SACK ? TCP_MAX_SACK : ns;
            for (int i = 0; i < h.opts.nsack; i++) {
                int16_t a = (int16_t)u16(&r), b = (int16_t)u16(&r);
                h.opts.sack[i].left = f->stack_nxt + (uint32_t)(int32_t)a * 16;
                h.opts.sack[i].right = f->stack_nxt + (uint32_t)(int32_t)b * 16;
            }
            if (op & 0x20) {
                h.opts.ts_ok = true;
                h.opts.tsval = (uint32_t)u16(&r) << (u8(&r) & 16);
                h.opts.tsecr = f->stack_tsval;
            }
            size_t pl = u8(&r) * ((op & 0x10) ? 16u : 1u);
            if (pl > 1400)
                pl = 1400;
            h.payload = payload + (op & 7);
            h.payload_len = pl;
            tf_send_hdr(f, &h);
            break;
        }
        case 1: {
            size_t n = (size_t)u8(&r) * 64;
            ts_tcp_send(f->conn, payload, n > sizeof payload ? sizeof payload : n, f->now);
            break;
        }
        case 2: {
            uint8_t b[1024];
            ts_tcp_recv(f->conn, b, (size_t)u8(&r) * 4 + 1, f->now);
            break;
        }
        case 3:
            tf_advance(f, (ts_time_t)u8(&r) * 10 * TS_MS);
            break;
        case 4: {
            uint8_t seg[256];
            size_t n = u8(&r);
            for (size_t i = 0; i < n; i++)
                seg[i] = u8(&r);
            if (n >= 4) {
                seg[0] = (uint8_t)(f->rport >> 8), seg[1] = (uint8_t)f->rport;
                seg[2] = (uint8_t)(f->lport >> 8), seg[3] = (uint8_t)f->lport;
            }
            if (n >= 20)
                tf_fix_csum(seg, n);
            tf_send_raw(f, seg, n);
            break;
        }
        case 5:
            if (op & 0x80)
                ts_tcp_shutdown_write(f->conn, f->now);
            break;
        case 6: {
            size_t n = u8(&r);
            tf_send_data(f, payload, n);
            break;
        }
        case 7:
            tf_send_ack(f);
            break;
        case 8:
            tf_send_fin(f);
            break;
        }
        track(f);
    }
    tf_advance(f, 200 * TS_SEC);
    tf_free(f);
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_one(data, size);
    return 0;
}
