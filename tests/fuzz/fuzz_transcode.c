/* JSON -> protobuf for the request message of every gateway route (the
 * first input byte picks the route, the rest is the body), then protobuf ->
 * JSON of what was decoded. Mirrors api.c: the body is parsed as parse_body
 * does and the deny list is the route's (gw_route_body_deny). Invariants: a refusal leaves an error
 * message; an accepted body packs to exactly get_packed_size bytes, unpacks again, and both
 * messages print the same JSON, which the transcoder accepts back as input
 * and which decodes to the same message. */
#include <jansson.h>
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
        const ProtobufCMethodDescriptor *m = gw_route_method(&gw_routes[i]);
        if (m != NULL)
            routes[nroutes++] = &gw_routes[i];
    }
    FUZZ_CHECK(nroutes > 0);
    arena = kn_arena_new(0);
    return 0;
}

static json_t *to_json_checked(const ProtobufCMessage *m)
{
    json_t *j = gw_msg_to_json(m);
    FUZZ_CHECK(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(s != NULL);
    free(s);
    return j;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const gw_route *r = routes[data[0] % nroutes];
    const ProtobufCMessageDescriptor *md = gw_route_method(r)->input;
    json_t *body = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (body == NULL)
        return 0;

    kn_arena_reset(arena);
    ProtobufCAllocator *al = kn_arena_allocator(arena);
    gw_body_deny deny;
    gw_route_body_deny(r, &deny);

    ProtobufCMessage *msg = gw_msg_new(md, al);
    char err[GW_ERR_MAX] = "";
    if (gw_json_to_msg(body, msg, al, deny.names, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        json_decref(body);
        return 0;
    }
    json_decref(body);

    size_t want = 0;
    ProtobufCMessage *back = fuzz_repack(msg, al, &want);

    json_t *j1 = to_json_checked(msg), *j2 = to_json_checked(back);
    FUZZ_CHECK(json_equal(j1, j2));

    /* What the gateway prints it must read back (no deny list: output
     * carries server-set fields a client may not send). */
    ProtobufCMessage *again = gw_msg_new(md, al);
    err[0] = '\0';
    if (gw_json_to_msg(j1, again, al, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "printed JSON refused: %s\n", err);
        FUZZ_CHECK(0);
    }
    json_t *j3 = to_json_checked(again);
    FUZZ_CHECK(json_equal(j1, j3));
    FUZZ_CHECK(protobuf_c_message_get_packed_size(again) == want);

    json_decref(j1);
    json_decref(j2);
    json_decref(j3);
    return 0;
}
