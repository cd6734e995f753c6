#include "loc_text.h"

#include <string.h>
#include <strings.h>

int loc_like_pattern(const char *s, int contains, char *out, size_t outlen)
{
    size_t o = 0;
    if (contains) {
        if (o + 1 >= outlen)
            return -1;
        out[o++] = '%';
    }
    for (const char *p = s; *p; p++) {
        int meta = (*p == '%' || *p == '_' || *p == '\\');
        if (o + (size_t)meta + 1 >= outlen)
            return -1;
        if (meta)
            out[o++] = '\\';
        out[o++] = *p;
    }
    if (o + 2 > outlen)
        return -1;
    out[o++] = '%';
    out[o] = '\0';
    return (int)o;
}

int loc_uuid_array(char *const *ids, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen < 3)
        return -1;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        if (o + len + 3 > outlen)
            return -1;
        if (i > 0)
            out[o++] = ',';
        memcpy(out + o, ids[i], len);
        o += len;
    }
    out[o++] = '}';
    out[o] = '\0';
    return (int)o;
}

int loc_text_array(const char *const *v, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    if (outlen < 3)
        return -1;
    out[o++] = '{';
    for (size_t i = 0; i < n; i++) {
        /* Room for a comma, two quotes and, after the loop, '}' and NUL. */
        if (o + 5 > outlen)
            return -1;
        if (i > 0)
            out[o++] = ',';
        out[o++] = '"';
        for (const char *p = v[i]; *p; p++) {
            int esc = (*p == '"' || *p == '\\');
            if (o + (size_t)esc + 4 > outlen)
                return -1;
            if (esc)
                out[o++] = '\\';
            out[o++] = *p;
        }
        out[o++] = '"';
    }
    out[o++] = '}';
    out[o] = '\0';
    return (int)o;
}

int loc_has_duplicate(char *const *ids, size_t n)
{
    /* Lists are capped at a few hundred ids: quadratic is fine. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcasecmp(ids[i], ids[j]) == 0)
                return 1;
    return 0;
}

loc_fence loc_fence_decide(int64_t token, const char *assignee, int64_t stored_token,
                           const char *stored_assignee)
{
    if (token > stored_token)
        return LOC_FENCE_APPLY;
    if (token == stored_token &&
        strcasecmp(assignee ? assignee : "", stored_assignee ? stored_assignee : "") == 0)
        return LOC_FENCE_NOOP;
    return LOC_FENCE_STALE;
}
