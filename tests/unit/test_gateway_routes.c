/* The gateway's route table: every gRPC route names a real method whose
 * request has the fields its path variables and headers fill, no two
 * routes collide, and paths match the route and variables they should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../gateway/routes.c"
#include "../../gateway/transcode.h"

/* transcode.c's lookup, without linking the whole transcoder twice. */
#include "../../gateway/transcode.c"

static void test_table_is_consistent(void **state)
{
    (void)state;
    assert_true(gw_nroutes >= 40);
    for (size_t i = 0; i < gw_nroutes; i++) {
        const gw_route *r = &gw_routes[i];
        for (size_t k = 0; k < i; k++)
            if (strcmp(gw_routes[k].method, r->method) == 0 &&
                strcmp(gw_routes[k].path, r->path) == 0)
                fail_msg("duplicate route %s %s", r->method, r->path);
        int nvars = 0;
        for (const char *p = r->path; (p = strchr(p, '{')) != NULL; p++)
            nvars++;
        if (r->kind != GW_H_GRPC && r->kind != GW_H_CREATE_ORDER) {
            assert_int_equal(nvars, 0);
            continue;
        }
        const ProtobufCMethodDescriptor *md = gw_route_method(r);
        if (md == NULL)
            fail_msg("%s %s: no method %s", r->method, r->path, r->rpc);
        for (int v = 0; v < nvars; v++) {
            assert_non_null(r->vars[v]);
            const ProtobufCFieldDescriptor *f = gw_field_lookup(md->input, r->vars[v]);
            if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING)
                fail_msg("%s %s: %s has no string field %s", r->method, r->path, md->input->name,
                         r->vars[v]);
        }
        if (nvars < GW_MAX_VARS)
            assert_null(r->vars[nvars]);
        if (r->flags & GW_R_IDEMPOTENCY)
            assert_non_null(gw_field_lookup(md->input, "request_id"));
        if (r->flags & GW_R_IF_MATCH)
            assert_non_null(gw_field_lookup(md->input, "etag"));
        if (r->flags & GW_R_ETAG)
            assert_non_null(gw_field_lookup(md->output, "etag"));
        if (r->flags & GW_R_PAGED)
            assert_non_null(gw_field_lookup(md->input, "page_size"));
        if (strcmp(r->method, "GET") == 0)
            assert_false(r->flags & GW_R_BODY);
    }
}

static void expect(const char *method, const char *path, const char *tmpl, const char *v0,
                   const char *v1)
{
    gw_match m;
    gw_route_find(method, path, &m);
    if (m.route == NULL)
        fail_msg("%s %s: no route", method, path);
    if (strcmp(m.route->path, tmpl) != 0)
        fail_msg("%s %s matched %s, not %s", method, path, m.route->path, tmpl);
    assert_int_equal(m.nvals, (v0 != NULL) + (v1 != NULL));
    if (v0)
        assert_string_equal(m.vals[0], v0);
    if (v1)
        assert_string_equal(m.vals[1], v1);
}

static void test_matching(void **state)
{
    (void)state;
    const char *id = "0b8a3c1e-5b1a-4c36-9d8e-3f0e8f0c2a11";
    char p[256];
    expect("GET", "/v1/orders", "/v1/orders", NULL, NULL);
    expect("POST", "/v1/orders", "/v1/orders", NULL, NULL);
    snprintf(p, sizeof p, "/v1/orders/%s", id);
    expect("GET", p, "/v1/orders/{id}", id, NULL);
    expect("HEAD", p, "/v1/orders/{id}", id, NULL);
    expect("PATCH", p, "/v1/orders/{id}", id, NULL);
    static const char *const verbs[] = {"cancel", "assign", "unassign", "take", "collect"};
    for (size_t i = 0; i < 5; i++) {
        char t[64];
        snprintf(p, sizeof p, "/v1/orders/%s:%s", id, verbs[i]);
        snprintf(t, sizeof t, "/v1/orders/{id}:%s", verbs[i]);
        expect("POST", p, t, id, NULL);
    }
    snprintf(p, sizeof p, "/v1/orders/%s/packages:add", id);
    expect("POST", p, "/v1/orders/{id}/packages:add", id, NULL);
    snprintf(p, sizeof p, "/v1/orders/%s/history", id);
    expect("GET", p, "/v1/orders/{id}/history", id, NULL);
    expect("GET", "/v1/locations/L1/doors/D7/contents",
           "/v1/locations/{id}/doors/{doorId}/contents", "L1", "D7");
    expect("PATCH", "/v1/locations/L1/doors/D7", "/v1/locations/{id}/doors/{doorId}", "L1", "D7");
    expect("POST", "/v1/locations/L1/stock:adjust", "/v1/locations/{id}/stock:adjust", "L1", NULL);
    expect("POST", "/v1/packages/P:deliver", "/v1/packages/{id}:deliver", "P", NULL);
    expect("POST", "/v1/login", "/v1/login", NULL, NULL);
    expect("GET", "/", "/", NULL, NULL);
    expect("GET", "/healthz", "/healthz", NULL, NULL);

    gw_match m;
    gw_route_find("GET", "/v1/orders/x:cancel", &m); /* a variable never spans ':' */
    assert_null(m.route);
    assert_true(m.method_mismatch);
    assert_string_equal(m.allow, "POST");
    gw_route_find("DELETE", "/v1/orders/x", &m);
    assert_null(m.route);
    assert_string_equal(m.allow, "GET, PATCH");
    gw_route_find("GET", "/v1/orders/", &m);
    assert_null(m.route);
    assert_false(m.method_mismatch);
    gw_route_find("GET", "/v1/orders/a/b", &m);
    assert_null(m.route);
    gw_route_find("POST", "/v1/orders/x:explode", &m);
    assert_null(m.route);
    gw_route_find("GET", "/v1/ordersx", &m);
    assert_null(m.route);
    gw_route_find("GET", "/app.js", &m); /* static files are the caller's fallback */
    assert_null(m.route);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_consistent),
        cmocka_unit_test(test_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
