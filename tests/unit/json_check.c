/* A strict JSON validator: see json_check.h. */
#include "json_check.h"

#include <string.h>

struct jp {
    const char *p, *end;
    int depth;
};

static void ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static bool lit(struct jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return false;
    j->p += n;
    return true;
}

static bool digits(struct jp *j)
{
    const char *s = j->p;
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static bool number(struct jp *j)
{
    if (j->p < j->end && *j->p == '-')
        j->p++;
    if (j->p < j->end && *j->p == '0')
        j->p++;
    else if (!digits(j))
        return false;
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (!digits(j))
            return false;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (!digits(j))
            return false;
    }
    return true;
}

static bool string(struct jp *j)
{
    if (j->p >= j->end || *j->p != '"')
        return false;
    j->p++;
    while (j->p < j->end) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false; /* control characters must be escaped */
        if (c != '\\')
            continue;
        if (j->p >= j->end)
            return false;
        c = (unsigned char)*j->p++;
        if (c == 'u') {
            for (int i = 0; i < 4; i++, j->p++)
                if (j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
                    return false;
        } else if (!strchr("\"\\/bfnrt", c)) {
            return false;
        }
    }
    return false;
}

static bool value(struct jp *j);

static bool members(struct jp *j, char close, bool object)
{
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return true;
    }
    for (;;) {
        ws(j);
        if (object) {
            if (!string(j))
                return false;
            ws(j);
            if (j->p >= j->end || *j->p++ != ':')
                return false;
        }
        if (!value(j))
            return false;
        ws(j);
        if (j->p >= j->end)
            return false;
        char c = *j->p++;
        if (c == close)
            return true;
        if (c != ',')
            return false;
    }
}

static bool value(struct jp *j)
{
    ws(j);
    if (j->p >= j->end || ++j->depth > 64)
        return false;
    bool ok;
    switch (*j->p) {
    case '{':
        ok = members(j, '}', true);
        break;
    case '[':
        ok = members(j, ']', false);
        break;
    case '"':
        ok = string(j);
        break;
    case 't':
        ok = lit(j, "true");
        break;
    case 'f':
        ok = lit(j, "false");
        break;
    case 'n':
        ok = lit(j, "null");
        break;
    default:
        ok = number(j);
        break;
    }
    j->depth--;
    return ok;
}

bool json_valid(const char *text, size_t len)
{
    struct jp j = {.p = text, .end = text + len};
    if (!value(&j))
        return false;
    ws(&j);
    return j.p == j.end;
}
