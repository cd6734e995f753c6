/* Query-string parsing into request fields. The first input byte picks a
 * gateway route, the rest is the raw query string (after '?'). It is split
 * and unescaped the way libmicrohttpd does it for the gateway ('&', '=',
 * '+' -> ' ', MHD_http_unescape), then each parameter goes through
 * gw_route_query_param, as the gateway's build_request does. Invariants: a refusal names
 * something; an accepted request packs, unpacks and prints as JSON. */
#include <jansson.h>
#include <microhttpd.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"
#include "kn_arena.h"
#include "routes.h"
#include "transcode.h"

static const gw_route *routes[128];
static size_t nroutes;
static kn_arena *arena;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    for (size_t i = 0; i < gw_nroutes && nroutes < sizeof routes / sizeof routes[0]; i++) {
        if ((gw_routes[i].flags & GW_R_QUERY) && gw_route_method(&gw_routes[i]) != NULL)
            routes[nroutes++] = &gw_routes[i];
    }
    FUZZ_CHECK(nroutes > 0);
    arena = kn_arena_new(0);
    return 0;
}

static void unescape(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '+')
            *p = ' ';
    MHD_http_unescape(s);
}

/* One parameter as build_request applies it: 0 applied or skipped, -1
 * refused (with a message). */
static int apply(const gw_route *r, ProtobufCMessage *msg, const char *key, const char *value,
                 ProtobufCAllocator *al)
{
    char err[GW_ERR_MAX] = "";
    if (gw_route_query_param(r, msg, key, value, al, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const gw_route *r = routes[data[0] % nroutes];
    const ProtobufCMessageDescriptor *md = gw_route_method(r)->input;
    char *q = malloc(size);
    FUZZ_CHECK(q != NULL);
    memcpy(q, data + 1, size - 1);
    q[size - 1] = '\0';

    kn_arena_reset(arena);
    ProtobufCAllocator *al = kn_arena_allocator(arena);
    ProtobufCMessage *msg = gw_msg_new(md, al);
    int refused = 0;
    /* libmicrohttpd's MHD_parse_arguments_: stops at an empty segment. */
    for (char *args = q; !refused && args != NULL && *args != '\0';) {
        char *amp = strchr(args, '&');
        if (amp != NULL)
            *amp++ = '\0';
        char *eq = strchr(args, '=');
        if (eq != NULL)
            *eq++ = '\0';
        unescape(args);
        if (eq != NULL)
            unescape(eq);
        refused = apply(r, msg, args, eq, al) != 0;
        args = amp;
    }
    free(q);
    if (refused)
        return 0;

    size_t want = 0;
    ProtobufCMessage *back = fuzz_repack(msg, al, &want);
    json_t *j1 = gw_msg_to_json(msg), *j2 = gw_msg_to_json(back);
    FUZZ_CHECK(j1 != NULL && j2 != NULL && json_equal(j1, j2));
    char *s = json_dumps(j1, JSON_COMPACT);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(j1);
    json_decref(j2);
    return 0;
}
