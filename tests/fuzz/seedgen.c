/* seedgen: writes the seed corpora (tests/fuzz/corpus/<target>/) from the
 * real descriptors and route table, so the seeds follow the API when it
 * changes: `build-fuzz/tests/fuzz/seedgen tests/fuzz/corpus`. Every request
 * message gets one filled-in sample (ids as UUIDs, dates, times, small
 * numbers, two elements per repeated field); each target's seed is that
 * sample in the target's input format, with the selector byte the target
 * expects first. A few hand-written inputs (refused tokens, odd paths) are
 * added per target. Existing files are overwritten, others left alone. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "grpc/health/v1/health.pb-c.h"
#include "kn_arena.h"
#include "kn_jwt.h"
#include "kn_pagetoken.h"
#include "konnect/assign/v1/assign.pb-c.h"
#include "konnect/location/v1/location.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"
#include "routes.h"
#include "transcode.h"

static const char *outdir;
static kn_arena *arena;

static void put(const char *target, const char *name, uint8_t sel, const void *data, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        FUZZ_CHECK(0);
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    fputc(sel, f);
    if (n)
        FUZZ_CHECK(fwrite(data, 1, n, f) == n);
    fclose(f);
}

static void puts_(const char *target, const char *name, uint8_t sel, const char *s)
{
    put(target, name, sel, s, strlen(s));
}

static const char *sample_string(const char *field, unsigned k)
{
    static const char *const uuids[] = {"5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e0f4b96",
                                        "0e9a7c31-24b5-4d8e-a1f3-6c2b9d8e7f10"};
    size_t n = strlen(field);
    if (strcmp(field, "page_token") == 0 || strcmp(field, "etag") == 0)
        return "";
    if (strcmp(field, "request_id") == 0)
        return "req-0001";
    if (strcmp(field, "time_zone") == 0)
        return "Europe/Paris";
    if (strstr(field, "date") != NULL)
        return k ? "2024-05-31" : "2024-05-01";
    if (strcmp(field, "email") == 0)
        return "tech@example.com";
    if (strcmp(field, "password") == 0)
        return "correct horse";
    if (strcmp(field, "id") == 0 || (n > 3 && strcmp(field + n - 3, "_id") == 0) ||
        (n > 4 && strcmp(field + n - 4, "_ids") == 0))
        return uuids[k % 2];
    if (strcmp(field, "sku") == 0)
        return k ? "SKU-2" : "SKU-1";
    return k ? "Dock B, door 7" : "Konnect ✓ sample";
}

static void fill(ProtobufCMessage *msg, int depth);

static void fill_value(void *slot, const ProtobufCFieldDescriptor *f, unsigned k, int depth)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *(int32_t *)slot = strcmp(f->name, "page_size") == 0 ? 10 : 2 + (int32_t)k;
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *(uint32_t *)slot = 3;
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        *(int64_t *)slot = 7;
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *(float *)slot = 1.5f;
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *(double *)slot = 2.25;
        break;
    case PROTOBUF_C_TYPE_BOOL:
        *(protobuf_c_boolean *)slot = 1;
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        *(int *)slot = ed->n_values > 1 ? ed->values[1].value : ed->values[0].value;
        break;
    }
    case PROTOBUF_C_TYPE_STRING:
        *(char **)slot = kn_arena_strdup(arena, sample_string(f->name, k));
        break;
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData *b = slot;
        b->data = (uint8_t *)kn_arena_strdup(arena, "bytes");
        b->len = 5;
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessageDescriptor *md = f->descriptor;
        ProtobufCMessage *sub = kn_arena_msg(arena, md);
        if (strcmp(md->name, "google.protobuf.Timestamp") == 0) {
            Google__Protobuf__Timestamp *ts = (Google__Protobuf__Timestamp *)sub;
            ts->seconds = INT64_C(1714550400) + 86400 * (int64_t)k;
            ts->nanos = k ? 250000000 : 0;
        } else if (depth < 4) {
            fill(sub, depth + 1);
        }
        *(ProtobufCMessage **)slot = sub;
        break;
    }
    }
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4; /* int32, enum, bool (protobuf_c_boolean is int), float */
    }
}

static void fill(ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *slot = (char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            char *arr = kn_arena_alloc(arena, 2 * elem_size(f->type));
            for (unsigned k = 0; k < 2; k++)
                fill_value(arr + k * elem_size(f->type), f, k, depth);
            *(size_t *)((char *)msg + f->quantifier_offset) = 2;
            *(void **)slot = arr;
        } else {
            fill_value(slot, f, 0, depth);
            if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                *(uint32_t *)((char *)msg + f->quantifier_offset) = f->id;
            else if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
                *(protobuf_c_boolean *)((char *)msg + f->quantifier_offset) = 1;
        }
    }
}

static ProtobufCMessage *sample(const ProtobufCMessageDescriptor *md)
{
    ProtobufCMessage *m = kn_arena_msg(arena, md);
    fill(m, 0);
    return m;
}

static void short_name(const char *desc_name, char *out, size_t n)
{
    const char *dot = strrchr(desc_name, '.');
    snprintf(out, n, "%s", dot ? dot + 1 : desc_name);
}

/* --- service_request --------------------------------------------------- */

static void seeds_service_request(void)
{
    const ProtobufCServiceDescriptor *svcs[] = {
        &konnect__order__v1__order_service__descriptor,
        &konnect__assign__v1__assign_service__descriptor,
        &konnect__location__v1__location_service__descriptor,
        &grpc__health__v1__health__descriptor,
    };
    unsigned sel = 0;
    for (size_t s = 0; s < sizeof svcs / sizeof svcs[0]; s++) {
        for (unsigned m = 0; m < svcs[s]->n_methods; m++, sel++) {
            const ProtobufCMessageDescriptor *md = svcs[s]->methods[m].input;
            ProtobufCMessage *msg = sample(md);
            size_t n = protobuf_c_message_get_packed_size(msg);
            uint8_t *buf = malloc(n + 1);
            protobuf_c_message_pack(msg, buf);
            char name[128];
            snprintf(name, sizeof name, "%s.%s", svcs[s]->short_name, svcs[s]->methods[m].name);
            put("service_request", name, (uint8_t)sel, buf, n);
            free(buf);
        }
    }
    FUZZ_CHECK(sel < 256);
}

/* --- transcode and query ----------------------------------------------- */

static int denied(const gw_route *r, const char *json_name)
{
    gw_body_deny deny;
    gw_route_body_deny(r, &deny);
    for (const char *const *d = deny.names; *d; d++)
        if (strcmp(*d, json_name) == 0)
            return 1;
    return 0;
}

static void url_append(char *out, size_t n, const char *s)
{
    size_t o = strlen(out);
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~", c))
            out[o++] = (char)c;
        else if (c == ' ')
            out[o++] = '+';
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static void seeds_transcode_query(void)
{
    unsigned sel = 0, qsel = 0;
    for (size_t i = 0; i < gw_nroutes; i++) {
        const gw_route *r = &gw_routes[i];
        const ProtobufCMethodDescriptor *m = gw_route_method(r);
        if (m == NULL)
            continue;
        ProtobufCMessage *msg = sample(m->input);
        json_t *j = gw_msg_to_json(msg);
        FUZZ_CHECK(j != NULL);
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, key, v)
        {
            if (denied(r, key))
                json_object_del(j, key);
        }
        char *body = json_dumps(j, JSON_COMPACT);
        char name[128], sn[64];
        short_name(m->input->name, sn, sizeof sn);
        snprintf(name, sizeof name, "%02u.%s", sel, sn);
        puts_("transcode", name, (uint8_t)sel, body);
        free(body);

        if (r->flags & GW_R_QUERY) {
            char q[2048] = "";
            json_object_foreach(j, key, v)
            {
                const char *val = NULL;
                char num[32];
                if (json_is_string(v))
                    val = json_string_value(v);
                else if (json_is_integer(v))
                    snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), val = num;
                else if (json_is_boolean(v))
                    val = json_is_true(v) ? "true" : "false";
                else if (json_is_array(v) && json_array_size(v) > 0 &&
                         json_is_string(json_array_get(v, 0)))
                    val = json_string_value(json_array_get(v, 0));
                if (val == NULL || *val == '\0')
                    continue;
                if (q[0])
                    strcat(q, "&");
                url_append(q, sizeof q, key);
                strcat(q, "=");
                url_append(q, sizeof q, val);
            }
            snprintf(name, sizeof name, "%02u.%s", qsel, sn);
            puts_("query", name, (uint8_t)qsel, q);
            qsel++;
        }
        json_decref(j);
        sel++;
    }
    /* Hand-written: enum short names in any case, proto names, escapes. */
    puts_("query", "hand.enum-short", 0, "status=active&assignment=UNASSIGNED&pageSize=5");
    puts_("query", "hand.proto-names", 0,
          "page_size=20&location_id=5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e0f4b96");
    puts_("query", "hand.escapes", 0, "query=caf%C3%A9+cr%C3%A8me&pageSize=&x");
    puts_("query", "hand.time", 0,
          "from=2024-05-01T10%3A00%3A00.123%2B02%3A00&to=2024-05-02T00:00:00Z");
    puts_("transcode", "hand.nulls", 1,
          "{\"identifier\":null,\"packageIds\":[],\"stockLines\":[{\"sku\":\"A\",\"quantity\":"
          "\"3\"}]}");
    puts_("transcode", "hand.deny", 1, "{\"tenant_id\":\"x\"}");
}

/* --- routes ------------------------------------------------------------ */

static void seeds_routes(void)
{
    static const char *const methods[] = {"GET",    "POST",    "PATCH", "PUT",
                                          "DELETE", "OPTIONS", "HEAD"};
    for (size_t i = 0; i < gw_nroutes; i++) {
        const gw_route *r = &gw_routes[i];
        char path[512] = "";
        size_t o = 0;
        int v = 0;
        for (const char *t = r->path; *t;) {
            if (*t == '{') {
                o += (size_t)snprintf(path + o, sizeof path - o, "%s",
                                      v++ ? "0e9a7c31-24b5-4d8e-a1f3-6c2b9d8e7f10"
                                          : "5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e0f4b96");
                t = strchr(t, '}') + 1;
            } else {
                path[o++] = *t++;
            }
        }
        path[o] = '\0';
        unsigned mi = 0;
        while (strcmp(methods[mi], r->method) != 0)
            mi++;
        char data[600], name[64];
        int n = snprintf(data, sizeof data, "%c%s", (char)mi, path);
        snprintf(name, sizeof name, "find.%02zu", i);
        put("routes", name, 0, data, (size_t)n);
        n = snprintf(data, sizeof data, "%c%s\n%s", 200, r->path, path);
        snprintf(name, sizeof name, "match.%02zu", i);
        put("routes", name, 1, data, (size_t)n);
    }
    char data[64];
    int n = snprintf(data, sizeof data, "%c%s", 6, "/v1/orders/x:cancel");
    put("routes", "find.head-405", 0, data, (size_t)n);
    n = snprintf(data, sizeof data, "%c%s", 4, "/v1/orders//history");
    put("routes", "find.empty-var", 0, data, (size_t)n);
    n = snprintf(data, sizeof data, "%c%s", 3, "/a/{x}{y}/b\n/a/12/b");
    put("routes", "match.adjacent-vars", 1, data, (size_t)n);
    n = snprintf(data, sizeof data, "%c%s", 8, "/a/{x\n/a/1");
    put("routes", "match.unclosed", 1, data, (size_t)n);
}

/* --- jwt and page tokens ----------------------------------------------- */

static void seeds_jwt(void)
{
    static const unsigned char secret[] = "fuzz-secret-0123456789abcdef";
    kn_identity id = {.user_id = "5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e0f4b96",
                      .tenant_id = "0e9a7c31-24b5-4d8e-a1f3-6c2b9d8e7f10",
                      .role = KN_ROLE_HQ,
                      .exp = INT64_C(1714550400) + 3600};
    char tok[1024];
    int n = kn_jwt_sign(&id, INT64_C(1714550400), secret, sizeof secret - 1, tok, sizeof tok);
    FUZZ_CHECK(n > 0);
    put("jwt", "verify.valid", 0, tok, (size_t)n);
    id.role = KN_ROLE_TECHNICIAN;
    id.exp = INT64_C(1714550400) - 3600;
    n = kn_jwt_sign(&id, INT64_C(1714550400) - 7200, secret, sizeof secret - 1, tok, sizeof tok);
    put("jwt", "verify.expired", 0, tok, (size_t)n);
    /* {"alg":"none"}.{"sub":...}. */
    puts_("jwt", "verify.alg-none", 0,
          "eyJhbGciOiJub25lIn0.eyJzdWIiOiI1YjFmMGMyZS04ZDRhLTRmNmItOWMzZS0yYTdkMWUwZjRiOTYiLCJ0ZW5h"
          "bnQiOiIwZTlhN2MzMS0yNGI1LTRkOGUtYTFmMy02YzJiOWQ4ZTdmMTAiLCJyb2xlIjoiaHEiLCJleHAiOjk5OTk5"
          "OTk5OTl9.");
    puts_("jwt", "verify.three-dots", 0, "a.b.c.d");
    /* Round trips: flags (1|2: both ids UUIDs), role, the byte to change
     * (position, value), exp, 16+16 id bytes, secret. */
    uint8_t rt[64] = {3, 1, 200, '_'};
    int64_t exp = INT64_C(1714550400) + 60;
    memcpy(rt + 4, &exp, 8);
    for (int i = 12; i < 44; i++)
        rt[i] = (uint8_t)(i * 37);
    memcpy(rt + 44, "k3y", 3);
    put("jwt", "roundtrip.valid", 1, rt, 47);
    rt[0] = 0; /* raw text ids */
    rt[12] = 5;
    memcpy(rt + 13, "hello", 5);
    rt[18] = 36;
    put("jwt", "roundtrip.text-ids", 1, rt, 47);
}

static void seeds_pagetoken(void)
{
    kn_page_key k = {.time_us = INT64_C(1714550400000000),
                     .id = "5b1f0c2e-8d4a-4f6b-9c3e-2a7d1e0f4b96"};
    char tok[256];
    int n = kn_page_token_encode(&k, UINT64_C(0x0123456789abcdef), tok, sizeof tok);
    FUZZ_CHECK(n > 0);
    put("pagetoken", "decode.valid", 0, tok, (size_t)n);
    k.id[0] = '\0';
    k.time_us = -1;
    n = kn_page_token_encode(&k, UINT64_C(0x0123456789abcdef), tok, sizeof tok);
    put("pagetoken", "decode.empty-id", 0, tok, (size_t)n);
    puts_("pagetoken", "decode.garbage", 0, "not-a-token==");
    uint8_t rt[48] = {0};
    uint64_t h = UINT64_C(0xfeedfacecafebeef);
    int64_t t = INT64_C(1714550400000000);
    memcpy(rt, &h, 8);
    memcpy(rt + 8, &t, 8);
    memcpy(rt + 16, "SKU-1/door 7", 12);
    put("pagetoken", "roundtrip.text-id", 1, rt, 28);
}

/* --- dictionaries (libFuzzer -dict) ------------------------------------ */

static FILE *dict_open(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/../dict", outdir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        FUZZ_CHECK(0);
    snprintf(path, sizeof path, "%s/../dict/%s.dict", outdir, name);
    FILE *f = fopen(path, "w");
    FUZZ_CHECK(f != NULL);
    fprintf(f, "# Written by seedgen: the names of the API's fields and enum values.\n");
    return f;
}

/* One dictionary entry, escaped for libFuzzer's "..." syntax; json adds
 * the quotes a JSON member name has. */
static void dict_word(FILE *f, const char *w, int json)
{
    fputs(json ? "\"\\\"" : "\"", f);
    for (const char *p = w; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputs(json ? "\\\"\"\n" : "\"\n", f);
}

static void dict_message(FILE *tf, FILE *qf, const ProtobufCMessageDescriptor *md, int depth)
{
    char jn[128];
    for (unsigned i = 0; i < md->n_fields && depth < 4; i++) {
        const ProtobufCFieldDescriptor *f = &md->fields[i];
        gw_json_name(f->name, jn, sizeof jn);
        dict_word(tf, jn, 1);
        dict_word(qf, jn, 0);
        if (strcmp(jn, f->name) != 0)
            dict_word(tf, f->name, 1);
        if (f->type == PROTOBUF_C_TYPE_ENUM) {
            const ProtobufCEnumDescriptor *ed = f->descriptor;
            for (unsigned v = 0; v < ed->n_values; v++) {
                dict_word(tf, ed->values[v].name, 1);
                dict_word(qf, ed->values[v].name, 0);
            }
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            dict_message(tf, qf, f->descriptor, depth + 1);
        }
    }
}

static void dicts(void)
{
    static const char *const common[] = {"0001-01-01T00:00:00",
                                         "9999-12-31T23:59:59",
                                         "T23:59:60",
                                         "Z",
                                         "+23:59",
                                         "-00:00",
                                         ".999999999",
                                         "2024-02-29",
                                         "9223372036854775807",
                                         "-9223372036854775808",
                                         "18446744073709551615",
                                         "4294967296",
                                         "2147483648",
                                         "-2147483649",
                                         "1e400",
                                         "NaN",
                                         "Infinity",
                                         "-Infinity",
                                         "\\u0000",
                                         "\\ud800",
                                         "true",
                                         "false",
                                         "null"};
    FILE *tf = dict_open("transcode"), *qf = dict_open("query");
    for (size_t i = 0; i < gw_nroutes; i++) {
        const ProtobufCMethodDescriptor *m = gw_route_method(&gw_routes[i]);
        if (m != NULL)
            dict_message(tf, qf, m->input, 0);
    }
    for (size_t i = 0; i < sizeof common / sizeof common[0]; i++) {
        dict_word(tf, common[i], 0);
        dict_word(qf, common[i], 0);
    }
    dict_word(qf, "%00", 0);
    dict_word(qf, "%2B", 0);
    dict_word(qf, "%3A", 0);
    fclose(tf);
    fclose(qf);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    arena = kn_arena_new(0);
    seeds_service_request();
    seeds_transcode_query();
    seeds_routes();
    seeds_jwt();
    seeds_pagetoken();
    dicts();
    kn_arena_free(arena);
    return 0;
}
