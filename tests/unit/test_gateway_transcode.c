/* The gateway's JSON <-> protobuf transcoder: a round trip of every message
 * type of the three protos (every message reachable from the services'
 * methods) with every field set, the proto3 JSON spelling of each kind of
 * field, and the error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/transcode.c"
#include "kn_arena.h"
#include "konnect/assign/v1/assign.pb-c.h"
#include "konnect/location/v1/location.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"

static const ProtobufCServiceDescriptor *const services[] = {
    &konnect__order__v1__order_service__descriptor,
    &konnect__assign__v1__assign_service__descriptor,
    &konnect__location__v1__location_service__descriptor,
};

#define MAX_DESCS 128
static const ProtobufCMessageDescriptor *descs[MAX_DESCS];
static size_t ndescs;

static void collect(const ProtobufCMessageDescriptor *d)
{
    for (size_t i = 0; i < ndescs; i++)
        if (descs[i] == d)
            return;
    assert_true(ndescs < MAX_DESCS);
    descs[ndescs++] = d;
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            collect(d->fields[i].descriptor);
}

static void collect_all(void)
{
    if (ndescs)
        return;
    for (size_t s = 0; s < sizeof services / sizeof services[0]; s++)
        for (unsigned m = 0; m < services[s]->n_methods; m++) {
            collect(services[s]->methods[m].input);
            collect(services[s]->methods[m].output);
        }
}

/* Every field set to a value unlike its default; depth bounds recursion. */
static void fill(ProtobufCMessage *msg, kn_arena *a, int depth, int seed)
{
    const ProtobufCMessageDescriptor *d = msg->descriptor;
    char *base = (char *)msg;
    if (strcmp(d->name, "google.protobuf.Timestamp") == 0) {
        Google__Protobuf__Timestamp *t = (void *)msg;
        t->seconds = 1714557600 + seed;
        t->nanos = 123000000;
        return;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t count = f->label == PROTOBUF_C_LABEL_REPEATED ? 2 : 1;
        size_t es = elem_size(f->type);
        char *slot;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            slot = kn_arena_alloc(a, count * es);
            *(size_t *)(base + f->quantifier_offset) = count;
            *(void **)(base + f->offset) = slot;
        } else {
            slot = base + f->offset;
        }
        for (size_t k = 0; k < count; k++) {
            void *e = slot + k * es;
            int v = seed + (int)f->id * 7 + (int)k;
            switch (f->type) {
            case PROTOBUF_C_TYPE_INT32:
            case PROTOBUF_C_TYPE_SINT32:
            case PROTOBUF_C_TYPE_SFIXED32:
                *(int32_t *)e = -v;
                break;
            case PROTOBUF_C_TYPE_UINT32:
            case PROTOBUF_C_TYPE_FIXED32:
                *(uint32_t *)e = (uint32_t)v;
                break;
            case PROTOBUF_C_TYPE_INT64:
            case PROTOBUF_C_TYPE_SINT64:
            case PROTOBUF_C_TYPE_SFIXED64:
                /* Beyond 2^53: a JSON number would lose it. */
                *(int64_t *)e = 9007199254740993LL + v;
                break;
            case PROTOBUF_C_TYPE_UINT64:
            case PROTOBUF_C_TYPE_FIXED64:
                *(uint64_t *)e = 18446744073709551000ULL + (uint64_t)v;
                break;
            case PROTOBUF_C_TYPE_FLOAT:
                *(float *)e = 1.5f + (float)v;
                break;
            case PROTOBUF_C_TYPE_DOUBLE:
                *(double *)e = 2.25 + v;
                break;
            case PROTOBUF_C_TYPE_BOOL:
                *(protobuf_c_boolean *)e = 1;
                break;
            case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *ed = f->descriptor;
                *(int *)e = ed->values[ed->n_values - 1 - (k % ed->n_values)].value;
                break;
            }
            case PROTOBUF_C_TYPE_STRING:
                *(char **)e =
                    kn_arena_sprintf(a, "%s-%d \"q\" \xc3\xa5\xc3\xa4\xc3\xb6", f->name, v);
                break;
            case PROTOBUF_C_TYPE_BYTES: {
                ProtobufCBinaryData *b = e;
                b->len = (size_t)(v % 5) + 1;
                b->data = kn_arena_alloc(a, b->len);
                memset(b->data, 0xfb, b->len);
                break;
            }
            case PROTOBUF_C_TYPE_MESSAGE: {
                if (depth > 4) {
                    *(ProtobufCMessage **)e = NULL;
                    break;
                }
                ProtobufCMessage *sub = kn_arena_msg(a, f->descriptor);
                fill(sub, a, depth + 1, v);
                *(ProtobufCMessage **)e = sub;
                break;
            }
            }
        }
    }
}

static void assert_same(const ProtobufCMessage *x, const ProtobufCMessage *y)
{
    size_t nx = protobuf_c_message_get_packed_size(x);
    size_t ny = protobuf_c_message_get_packed_size(y);
    uint8_t *bx = malloc(nx + 1), *by = malloc(ny + 1);
    protobuf_c_message_pack(x, bx);
    protobuf_c_message_pack(y, by);
    if (nx != ny || memcmp(bx, by, nx) != 0)
        fail_msg("%s differs after a JSON round trip", x->descriptor->name);
    free(bx);
    free(by);
}

static void test_round_trip_every_message(void **state)
{
    (void)state;
    collect_all();
    assert_true(ndescs >= 60);
    for (size_t i = 0; i < ndescs; i++) {
        kn_arena *a = kn_arena_new(4096);
        ProtobufCMessage *m = kn_arena_msg(a, descs[i]);
        fill(m, a, 0, (int)i);
        json_t *j = gw_msg_to_json(m);
        assert_non_null(j);
        char *text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        json_error_t je;
        json_t *back = json_loads(text, 0, &je);
        assert_non_null(back);
        ProtobufCMessage *m2 = gw_msg_new(descs[i], kn_arena_allocator(a));
        char err[GW_ERR_MAX] = "";
        if (gw_json_to_msg(back, m2, kn_arena_allocator(a), NULL, err, sizeof err) != 0)
            fail_msg("%s: %s (%s)", descs[i]->name, err, text);
        assert_same(m, m2);
        /* Defaults too: an empty message survives and prints its defaults. */
        ProtobufCMessage *e = kn_arena_msg(a, descs[i]);
        json_t *ej = gw_msg_to_json(e);
        ProtobufCMessage *e2 = gw_msg_new(descs[i], kn_arena_allocator(a));
        assert_int_equal(gw_json_to_msg(ej, e2, kn_arena_allocator(a), NULL, err, sizeof err), 0);
        assert_same(e, e2);
        json_decref(ej);
        json_decref(back);
        free(text);
        kn_arena_free(a);
    }
}

static void test_spelling(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(4096);
    Konnect__Order__V1__Order o = KONNECT__ORDER__V1__ORDER__INIT;
    Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    Konnect__Order__V1__StockLine sl = KONNECT__ORDER__V1__STOCK_LINE__INIT;
    Konnect__Order__V1__StockLine *lines[] = {&sl};
    char *pkgs[] = {"p1", "p2"};
    o.id = "o1";
    o.assignee_user_id = "u1";
    o.status = KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_ACTIVE;
    t.seconds = 1714557600;
    t.nanos = 5000000;
    o.create_time = &t;
    o.n_package_ids = 2;
    o.package_ids = pkgs;
    sl.sku = "SKU-1";
    sl.quantity = 3;
    o.n_stock_lines = 1;
    o.stock_lines = lines;
    json_t *j = gw_msg_to_json(&o.base);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(s, "\"assigneeUserId\":\"u1\""));
    assert_non_null(strstr(s, "\"status\":\"ORDER_STATUS_ACTIVE\""));
    assert_non_null(strstr(s, "\"type\":\"ORDER_TYPE_UNSPECIFIED\""));
    assert_non_null(strstr(s, "\"createTime\":\"2024-05-01T10:00:00.005Z\""));
    assert_non_null(strstr(s, "\"packageIds\":[\"p1\",\"p2\"]"));
    assert_non_null(strstr(s, "\"stockLines\":[{\"quantity\":3,\"sku\":\"SKU-1\"}]"));
    assert_null(strstr(s, "updateTime")); /* unset message fields are omitted */
    free(s);
    json_decref(j);

    Konnect__Assign__V1__Assignment as = KONNECT__ASSIGN__V1__ASSIGNMENT__INIT;
    as.fencing_token = 9007199254740993LL;
    j = gw_msg_to_json(&as.base);
    s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s, "\"fencingToken\":\"9007199254740993\""));
    free(s);
    json_decref(j);

    Konnect__Assign__V1__UpdateUserRequest uu = KONNECT__ASSIGN__V1__UPDATE_USER_REQUEST__INIT;
    Google__Protobuf__BoolValue bv = GOOGLE__PROTOBUF__BOOL_VALUE__INIT;
    uu.active = &bv;
    j = gw_msg_to_json(&uu.base);
    s = json_dumps(j, JSON_COMPACT);
    assert_non_null(strstr(s, "\"active\":false"));
    free(s);
    json_decref(j);
    kn_arena_free(a);
}

/* Decodes text into a new message of d; returns 0 or -1 with err. */
static int decode(kn_arena *a, const ProtobufCMessageDescriptor *d, const char *text,
                  const char *const *deny, ProtobufCMessage **out, char *err)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    *out = gw_msg_new(d, kn_arena_allocator(a));
    int rc = gw_json_to_msg(j, *out, kn_arena_allocator(a), deny, err, GW_ERR_MAX);
    json_decref(j);
    return rc;
}

static void expect_error(const ProtobufCMessageDescriptor *d, const char *text,
                         const char *const *deny, const char *needle)
{
    kn_arena *a = kn_arena_new(1024);
    ProtobufCMessage *m;
    char err[GW_ERR_MAX] = "";
    if (decode(a, d, text, deny, &m, err) == 0)
        fail_msg("%s accepted", text);
    if (strstr(err, needle) == NULL)
        fail_msg("%s: error \"%s\" lacks \"%s\"", text, err, needle);
    kn_arena_free(a);
}

static void test_input_forms(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(4096);
    char err[GW_ERR_MAX];
    ProtobufCMessage *m;
    assert_int_equal(decode(a, &konnect__order__v1__create_order_request__descriptor,
                            "{\"type\":2,\"location_id\":\"L\",\"packageIds\":null,"
                            "\"stockLines\":[{\"sku\":\"A\",\"quantity\":\"4\"},"
                            "{\"sku\":\"B\",\"quantity\":5.0}]}",
                            NULL, &m, err),
                     0);
    Konnect__Order__V1__CreateOrderRequest *co = (void *)m;
    assert_int_equal(co->type, KONNECT__ORDER__V1__ORDER_TYPE__ORDER_TYPE_STOCK);
    assert_string_equal(co->location_id, "L");
    assert_int_equal(co->n_package_ids, 0);
    assert_int_equal(co->n_stock_lines, 2);
    assert_int_equal(co->stock_lines[0]->quantity, 4);
    assert_int_equal(co->stock_lines[1]->quantity, 5);

    assert_int_equal(decode(a, &konnect__order__v1__set_assignee_request__descriptor,
                            "{\"fencingToken\":\"9223372036854775807\"}", NULL, &m, err),
                     0);
    assert_true(((Konnect__Order__V1__SetAssigneeRequest *)m)->fencing_token == INT64_MAX);
    assert_int_equal(decode(a, &konnect__order__v1__set_assignee_request__descriptor,
                            "{\"fencingToken\":42}", NULL, &m, err),
                     0);
    assert_true(((Konnect__Order__V1__SetAssigneeRequest *)m)->fencing_token == 42);

    assert_int_equal(decode(a, &konnect__location__v1__search_activity_request__descriptor,
                            "{\"from\":\"2024-05-01T12:00:00+02:00\",\"to\":\"2024-05-02T00:00:00."
                            "5Z\",\"kind\":\"ACTIVITY_KIND_DELIVERED\"}",
                            NULL, &m, err),
                     0);
    Konnect__Location__V1__SearchActivityRequest *sa = (void *)m;
    assert_true(sa->from->seconds == 1714557600);
    assert_int_equal(sa->to->nanos, 500000000);
    assert_int_equal(sa->kind, KONNECT__LOCATION__V1__ACTIVITY_KIND__ACTIVITY_KIND_DELIVERED);

    assert_int_equal(decode(a, &konnect__assign__v1__update_user_request__descriptor,
                            "{\"active\":false,\"displayName\":\"X\"}", NULL, &m, err),
                     0);
    Konnect__Assign__V1__UpdateUserRequest *uu = (void *)m;
    assert_non_null(uu->active);
    assert_false(uu->active->value);
    assert_int_equal(
        decode(a, &konnect__assign__v1__update_user_request__descriptor, "{}", NULL, &m, err), 0);
    assert_null(((Konnect__Assign__V1__UpdateUserRequest *)m)->active);
    kn_arena_free(a);
}

static void test_errors(void **state)
{
    (void)state;
    static const char *const deny[] = {"id", "tenantId", "status", "etag", "createTime", NULL};
    const ProtobufCMessageDescriptor *co = &konnect__order__v1__create_order_request__descriptor;
    expect_error(co, "{\"bogus\":1}", deny, "unknown field \"bogus\"");
    expect_error(co, "{\"stockLines\":[{\"sku\":\"a\",\"qty\":1}]}", deny,
                 "unknown field \"stockLines[0].qty\"");
    expect_error(co, "{\"type\":\"JOB\"}", deny, "\"type\"");
    expect_error(co, "{\"type\":99}", deny, "\"type\"");
    expect_error(co, "{\"type\":true}", deny, "\"type\"");
    expect_error(co, "{\"packageIds\":\"p1\"}", deny, "\"packageIds\": expected an array");
    expect_error(co, "{\"packageIds\":[1]}", deny, "\"packageIds[0]\": expected a string");
    expect_error(co, "{\"packageIds\":[null]}", deny, "packageIds[0]");
    expect_error(co, "{\"stockLines\":[{\"quantity\":2147483648}]}", deny,
                 "stockLines[0].quantity");
    expect_error(co, "{\"stockLines\":[{\"quantity\":1.5}]}", deny, "stockLines[0].quantity");
    expect_error(co, "{\"stockLines\":[{\"quantity\":\"12x\"}]}", deny, "stockLines[0].quantity");
    expect_error(co, "{\"stockLines\":[7]}", deny, "expected an object");
    expect_error(co, "{\"locationId\":5}", deny, "\"locationId\": expected a string");
    const ProtobufCMessageDescriptor *o = &konnect__order__v1__order__descriptor;
    expect_error(o, "{\"id\":\"x\"}", deny, "field \"id\" cannot be set");
    expect_error(o, "{\"tenant_id\":\"x\"}", deny, "field \"tenant_id\" cannot be set");
    expect_error(o, "{\"status\":\"ORDER_STATUS_ACTIVE\"}", deny, "\"status\" cannot be set");
    expect_error(o, "{\"etag\":\"e\"}", deny, "\"etag\" cannot be set");
    expect_error(o, "{\"createTime\":\"2024-01-01T00:00:00Z\"}", deny, "\"createTime\"");
    expect_error(o, "{\"updateTime\":\"yesterday\"}", deny, "\"updateTime\": expected an RFC");
    expect_error(o, "{\"updateTime\":\"2024-02-30T00:00:00Z\"}", deny, "updateTime");
    const ProtobufCMessageDescriptor *uu = &konnect__assign__v1__update_user_request__descriptor;
    expect_error(uu, "{\"active\":\"yes\"}", NULL, "\"active\": expected true or false");
    const ProtobufCMessageDescriptor *sa = &konnect__order__v1__set_assignee_request__descriptor;
    expect_error(sa, "{\"fencingToken\":\"99999999999999999999\"}", NULL, "fencingToken");
    expect_error(sa, "{\"fencingToken\":\" 1\"}", NULL, "fencingToken");
}

static void test_text_fields(void **state)
{
    (void)state;
    kn_arena *a = kn_arena_new(4096);
    ProtobufCAllocator *al = kn_arena_allocator(a);
    char err[GW_ERR_MAX];
    const ProtobufCMessageDescriptor *d = &konnect__order__v1__list_orders_request__descriptor;
    Konnect__Order__V1__ListOrdersRequest *r = (void *)gw_msg_new(d, al);
    assert_int_equal(
        gw_set_field_text(&r->base, gw_field_lookup(d, "status"), "ACTIVE", al, err, sizeof err),
        0);
    assert_int_equal(r->status, KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_ACTIVE);
    assert_int_equal(
        gw_set_field_text(&r->base, gw_field_lookup(d, "status"), "cancelled", al, err, sizeof err),
        0);
    assert_int_equal(r->status, KONNECT__ORDER__V1__ORDER_STATUS__ORDER_STATUS_CANCELLED);
    assert_int_equal(gw_set_field_text(&r->base, gw_field_lookup(d, "assignment"),
                                       "ASSIGNMENT_FILTER_UNASSIGNED", al, err, sizeof err),
                     0);
    assert_int_equal(r->assignment,
                     KONNECT__ORDER__V1__ASSIGNMENT_FILTER__ASSIGNMENT_FILTER_UNASSIGNED);
    assert_int_equal(
        gw_set_field_text(&r->base, gw_field_lookup(d, "pageSize"), "25", al, err, sizeof err), 0);
    assert_int_equal(r->page_size, 25);
    assert_int_equal(gw_set_field_text(&r->base, gw_field_lookup(d, "startDate"), "2024-05-01", al,
                                       err, sizeof err),
                     0);
    assert_string_equal(r->start_date, "2024-05-01");
    assert_int_not_equal(
        gw_set_field_text(&r->base, gw_field_lookup(d, "status"), "DONE", al, err, sizeof err), 0);
    assert_non_null(strstr(err, "status"));
    assert_int_not_equal(
        gw_set_field_text(&r->base, gw_field_lookup(d, "pageSize"), "ten", al, err, sizeof err), 0);
    assert_non_null(strstr(err, "pageSize"));

    const ProtobufCMessageDescriptor *sd =
        &konnect__location__v1__search_activity_request__descriptor;
    Konnect__Location__V1__SearchActivityRequest *s = (void *)gw_msg_new(sd, al);
    assert_int_equal(gw_set_field_text(&s->base, gw_field_lookup(sd, "from"),
                                       "2024-05-01T10:00:00Z", al, err, sizeof err),
                     0);
    assert_true(s->from->seconds == 1714557600);
    assert_int_equal(
        gw_set_field_text(&s->base, gw_field_lookup(sd, "kind"), "collected", al, err, sizeof err),
        0);
    assert_int_equal(s->kind, KONNECT__LOCATION__V1__ACTIVITY_KIND__ACTIVITY_KIND_COLLECTED);

    const ProtobufCMessageDescriptor *ud = &konnect__assign__v1__list_users_request__descriptor;
    Konnect__Assign__V1__ListUsersRequest *u = (void *)gw_msg_new(ud, al);
    assert_int_equal(gw_set_field_text(&u->base, gw_field_lookup(ud, "includeInactive"), "true", al,
                                       err, sizeof err),
                     0);
    assert_true(u->include_inactive);
    assert_int_equal(
        gw_set_field_text(&u->base, gw_field_lookup(ud, "role"), "hq", al, err, sizeof err), 0);
    assert_int_equal(u->role, KONNECT__ASSIGN__V1__USER_ROLE__USER_ROLE_HQ);
    assert_int_not_equal(gw_set_field_text(&u->base, gw_field_lookup(ud, "includeInactive"),
                                           "maybe", al, err, sizeof err),
                         0);

    const ProtobufCMessageDescriptor *cd =
        &konnect__location__v1__collect_packages_request__descriptor;
    Konnect__Location__V1__CollectPackagesRequest *c = (void *)gw_msg_new(cd, al);
    gw_set_field_text(&c->base, gw_field_lookup(cd, "packageIds"), "a", al, err, sizeof err);
    gw_set_field_text(&c->base, gw_field_lookup(cd, "package_ids"), "b", al, err, sizeof err);
    assert_int_equal(c->n_package_ids, 2);
    assert_string_equal(c->package_ids[1], "b");
    kn_arena_free(a);
}

static void test_rfc3339(void **state)
{
    (void)state;
    int64_t s;
    int32_t n;
    char buf[64];
    assert_int_equal(gw_rfc3339_parse("1970-01-01T00:00:00Z", &s, &n), 0);
    assert_true(s == 0 && n == 0);
    assert_int_equal(gw_rfc3339_parse("2024-02-29T23:59:59.123456789-01:30", &s, &n), 0);
    gw_rfc3339_format(s, n, buf, sizeof buf);
    assert_string_equal(buf, "2024-03-01T01:29:59.123456789Z");
    gw_rfc3339_format(-1, 0, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59Z");
    gw_rfc3339_format(0, 120000, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000120Z");
    static const char *const bad[] = {
        "",
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.1234567891Z",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00Zjunk",
        "2024-01-01 00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (gw_rfc3339_parse(bad[i], &s, &n) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
}

static void test_json_names(void **state)
{
    (void)state;
    char buf[64];
    gw_json_name("assignee_user_id", buf, sizeof buf);
    assert_string_equal(buf, "assigneeUserId");
    gw_json_name("id", buf, sizeof buf);
    assert_string_equal(buf, "id");
    gw_json_name("from", buf, sizeof buf);
    assert_string_equal(buf, "from");
    char p[32];
    enum_prefix("OrderStatus", p, sizeof p);
    assert_string_equal(p, "ORDER_STATUS_");
    enum_prefix("DoorSize", p, sizeof p);
    assert_string_equal(p, "DOOR_SIZE_");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_message),
        cmocka_unit_test(test_spelling),
        cmocka_unit_test(test_input_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_text_fields),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_json_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
