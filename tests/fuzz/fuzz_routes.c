/* Route lookup and path-template matching.
 * First byte even: gw_route_find(method, path) with the method picked by the
 * second byte and the rest as the path (a C string, as libmicrohttpd hands
 * it over). Checked against the table: the match is the first route whose
 * template and method fit, its variables rebuild the path exactly, 405 is
 * reported only when some template fits the path.
 * First byte odd: gw_path_match on a fuzzed template and path (split at the
 * first newline) into a buffer of fuzzed size, allocated exactly so that
 * ASan sees any write past it. */
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "routes.h"

static const char *const methods[] = {"GET",    "POST",    "PATCH", "PUT",
                                      "DELETE", "OPTIONS", "HEAD",  "get"};

/* Substitutes vals for the {...} of tmpl; -1 when it does not fit. */
static int rebuild(const char *tmpl, const char *const *vals, int nvals, char *out, size_t outlen)
{
    size_t o = 0;
    int v = 0;
    while (*tmpl) {
        const char *piece = tmpl;
        size_t n = 1;
        if (*tmpl == '{') {
            const char *close = strchr(tmpl, '}');
            if (close == NULL || v >= nvals)
                return -1;
            piece = vals[v++];
            n = strlen(piece);
            tmpl = close + 1;
        } else {
            tmpl++;
        }
        if (o + n + 1 > outlen)
            return -1;
        memcpy(out + o, piece, n);
        o += n;
    }
    out[o] = '\0';
    return v == nvals ? 0 : -1;
}

static void check_vals(const char *const *vals, int nvals, const char *buf, size_t buflen)
{
    FUZZ_CHECK(nvals >= 0 && nvals <= GW_MAX_VARS);
    for (int i = 0; i < nvals; i++) {
        FUZZ_CHECK(vals[i] >= buf && vals[i] < buf + buflen);
        size_t n = strlen(vals[i]);
        FUZZ_CHECK(n > 0 && vals[i] + n < buf + buflen);
        FUZZ_CHECK(strchr(vals[i], '/') == NULL && strchr(vals[i], ':') == NULL);
    }
}

static void find_route(const char *method, const char *path)
{
    gw_match m;
    gw_route_find(method, path, &m);
    int head = strcmp(method, "HEAD") == 0;
    int path_fits = 0;
    for (size_t i = 0; i < gw_nroutes; i++) {
        char buf[sizeof m.buf];
        const char *vals[GW_MAX_VARS];
        int nvals;
        if (!gw_path_match(gw_routes[i].path, path, buf, sizeof buf, vals, &nvals))
            continue;
        path_fits = 1;
        int method_fits = strcmp(gw_routes[i].method, method) == 0 ||
                          (head && strcmp(gw_routes[i].method, "GET") == 0);
        if (method_fits) {
            /* The first fitting route is the one found, with these values. */
            FUZZ_CHECK(m.route == &gw_routes[i] && m.index == (int)i);
            FUZZ_CHECK(m.nvals == nvals);
            for (int k = 0; k < nvals; k++)
                FUZZ_CHECK(strcmp(m.vals[k], vals[k]) == 0);
            break;
        }
    }
    if (m.route == NULL) {
        FUZZ_CHECK(m.index == -1);
        FUZZ_CHECK(m.method_mismatch == path_fits);
        FUZZ_CHECK(!m.method_mismatch || m.allow[0] != '\0');
        FUZZ_CHECK(memchr(m.allow, '\0', sizeof m.allow) != NULL);
        return;
    }
    check_vals(m.vals, m.nvals, m.buf, sizeof m.buf);
    char again[1024];
    FUZZ_CHECK(strlen(path) < sizeof again);
    FUZZ_CHECK(rebuild(m.route->path, m.vals, m.nvals, again, sizeof again) == 0);
    FUZZ_CHECK(strcmp(again, path) == 0);
}

static void match_template(const char *tmpl, const char *path, size_t buflen)
{
    char *buf = malloc(buflen ? buflen : 1);
    const char *vals[GW_MAX_VARS];
    int nvals = -1;
    FUZZ_CHECK(buf != NULL);
    int ok = gw_path_match(tmpl, path, buf, buflen, vals, &nvals);
    if (ok) {
        check_vals(vals, nvals, buf, buflen);
        size_t cap = strlen(path) + 1;
        char *again = malloc(cap);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(rebuild(tmpl, vals, nvals, again, cap) == 0);
        FUZZ_CHECK(strcmp(again, path) == 0);
        free(again);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    char *s = malloc(size - 1);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data + 2, size - 2);
    s[size - 2] = '\0';
    if ((data[0] & 1) == 0) {
        find_route(methods[data[1] % (sizeof methods / sizeof methods[0])], s);
    } else {
        char *nl = strchr(s, '\n');
        const char *path = "";
        if (nl != NULL) {
            *nl = '\0';
            path = nl + 1;
        }
        match_template(s, path, data[1]);
    }
    free(s);
    return 0;
}
