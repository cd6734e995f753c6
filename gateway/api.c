/* The HTTP/JSON API: a matched route and a gw_request become one
 * asynchronous gRPC call (or the create-order saga, a chain of them), and
 * its answer or error a gw_response, built on the completion thread. */
#include "gateway.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "kn_log.h"
#include "konnect/assign/v1/assign.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"
#include "transcode.h"

static gw_limiter *token_limiter;
static char *openapi_doc;
static size_t openapi_len;

int64_t gw_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void gw_response_init(gw_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->fd = -1;
    resp->status = 500;
    resp->content_type = "application/json";
    resp->no_store = 1;
}

static void set_body(gw_response *resp, char *body)
{
    free(resp->body);
    resp->body = body;
    resp->len = body ? strlen(body) : 0;
}

void gw_json_reply(gw_response *resp, int status, void *json)
{
    json_t *j = json;
    resp->status = status;
    resp->content_type = "application/json";
    set_body(resp, j ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
    if (resp->body == NULL) {
        resp->status = 500;
        set_body(resp, strdup("{\"code\":13,\"message\":\"out of memory\",\"details\":[]}"));
    }
}

static void error_details(gw_response *resp, int http_status, int grpc_code, const char *msg,
                          json_t *details)
{
    json_t *j = json_object();
    json_object_set_new(j, "code", json_integer(grpc_code));
    json_t *m = json_string(msg);
    json_object_set_new(j, "message", m ? m : json_string("error"));
    json_object_set_new(j, "details", details ? details : json_array());
    gw_json_reply(resp, http_status, j);
}

void gw_error(gw_response *resp, int http_status, int grpc_code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    error_details(resp, http_status, grpc_code, msg, NULL);
}

int gw_http_status(int code)
{
    switch (code) {
    case KN_OK:
        return 200;
    case KN_CANCELLED:
        return 499;
    case KN_INVALID_ARGUMENT:
    case KN_OUT_OF_RANGE:
        return 400;
    case KN_DEADLINE_EXCEEDED:
        return 504;
    case KN_NOT_FOUND:
        return 404;
    case KN_ALREADY_EXISTS:
    case KN_ABORTED:
    case KN_FAILED_PRECONDITION: /* a state conflict: 409, see docs/gateway.md */
        return 409;
    case KN_PERMISSION_DENIED:
        return 403;
    case KN_UNAUTHENTICATED:
        return 401;
    case KN_RESOURCE_EXHAUSTED:
        return 429;
    case KN_UNIMPLEMENTED:
        return 501;
    case KN_UNAVAILABLE:
        return 503;
    default:
        return 500;
    }
}

/* The services answer ALREADY_EXISTS "request_id reused with a different
 * request" when an Idempotency-Key comes back with another body. */
static int is_idempotency_conflict(const kn_status *st)
{
    return st->code == KN_ALREADY_EXISTS && strncasecmp(st->message, "request_id", 10) == 0;
}

static void grpc_error(const gw_request *req, gw_response *resp, const kn_status *st)
{
    int http = gw_http_status(st->code);
    if (is_idempotency_conflict(st))
        http = 422;
    else if (req->if_match != NULL &&
             (st->code == KN_ABORTED ||
              (st->code == KN_INVALID_ARGUMENT && strncmp(st->message, "etag", 4) == 0))) {
        /* A stale If-Match, or one that cannot be an etag at all: either
         * way the precondition failed. */
        error_details(resp, 412, KN_ABORTED,
                      st->code == KN_ABORTED ? st->message
                                             : "If-Match does not match the current ETag",
                      NULL);
        return;
    }
    if (st->code == KN_UNAUTHENTICATED)
        resp->www_authenticate = 1;
    if (st->code == KN_UNAVAILABLE || st->code == KN_RESOURCE_EXHAUSTED)
        resp->retry_after = 1;
    /* A transport error text names internal addresses; keep it generic. */
    const char *msg = st->message;
    if ((st->code == KN_UNAVAILABLE || st->code == KN_INTERNAL || st->code == KN_UNKNOWN) &&
        req->match.route != NULL && req->match.route->svc < GW_SVC_COUNT) {
        char m[128];
        snprintf(m, sizeof m, "%s service %s", gw_svc_label(req->match.route->svc),
                 st->code == KN_UNAVAILABLE ? "unavailable" : "failed");
        kn_log_warn("%s %s: %s: %s", req->method, req->path, kn_code_name(st->code), st->message);
        error_details(resp, http, st->code, m, NULL);
        return;
    }
    error_details(resp, http, st->code, msg, NULL);
}

/* --- request building ---------------------------------------------------- */

/* "\"abc\"", "W/\"abc\"" or "abc" -> "abc". */
static const char *strip_etag(kn_arena *a, const char *v)
{
    while (*v == ' ')
        v++;
    if (strncmp(v, "W/", 2) == 0)
        v += 2;
    size_t n = strlen(v);
    while (n > 0 && v[n - 1] == ' ')
        n--;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        return kn_arena_strndup(a, v + 1, n - 2);
    return kn_arena_strndup(a, v, n);
}

static int set_string_field(ProtobufCMessage *msg, const char *name, const char *value, kn_arena *a)
{
    const ProtobufCFieldDescriptor *f = gw_field_lookup(msg->descriptor, name);
    if (f == NULL || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return -1;
    *(char **)((char *)msg + f->offset) = kn_arena_strdup(a, value);
    return 0;
}

/* Parses the body (empty means {}) into a new JSON value; 400/415 on
 * failure. */
static json_t *parse_body(const gw_request *req, gw_response *resp)
{
    if (req->body_len == 0)
        return json_object();
    if (req->content_type != NULL && strncasecmp(req->content_type, "application/json", 16) != 0) {
        gw_error(resp, 415, KN_INVALID_ARGUMENT, "the request body must be application/json");
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "invalid JSON at line %d column %d: %s", je.line,
                 je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "the request body must be a JSON object");
        return NULL;
    }
    return j;
}

/* Builds the gRPC request of route r from the path variables, the body
 * (json, may be NULL), the query and the headers. 0 or -1 with resp set. */
static int build_request(gw_request *req, const gw_route *r, const ProtobufCMessageDescriptor *in,
                         json_t *body, ProtobufCMessage **out, gw_response *resp)
{
    ProtobufCAllocator *al = kn_arena_allocator(req->arena);
    ProtobufCMessage *msg = gw_msg_new(in, al);
    char err[GW_ERR_MAX];
    gw_body_deny deny;
    gw_route_body_deny(r, &deny);

    if (body != NULL && gw_json_to_msg(body, msg, al, deny.names, err, sizeof err) != 0) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "%s", err);
        return -1;
    }
    if (!(r->flags & GW_R_QUERY) && req->nquery > 0) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "unknown query parameter \"%s\"",
                 req->query[0].key);
        return -1;
    }
    for (size_t i = 0; i < req->nquery; i++) {
        if (gw_route_query_param(r, msg, req->query[i].key, req->query[i].value, al, err,
                                 sizeof err) != 0) {
            gw_error(resp, 400, KN_INVALID_ARGUMENT, "%s", err);
            return -1;
        }
    }
    for (int i = 0; i < req->match.nvals; i++) {
        if (set_string_field(msg, r->vars[i], req->match.vals[i], req->arena) != 0) {
            gw_error(resp, 500, KN_INTERNAL, "route %s: no field %s", r->path, r->vars[i]);
            return -1;
        }
    }
    if ((r->flags & GW_R_IDEMPOTENCY) && req->idempotency_key != NULL) {
        if (*req->idempotency_key == '\0' || strlen(req->idempotency_key) > 255) {
            gw_error(resp, 400, KN_INVALID_ARGUMENT, "Idempotency-Key must be 1 to 255 characters");
            return -1;
        }
        set_string_field(msg, "request_id", req->idempotency_key, req->arena);
    }
    if (r->flags & GW_R_IF_MATCH) {
        if (req->if_match == NULL && (r->flags & GW_R_IF_MATCH_REQ)) {
            gw_error(resp, 428, KN_FAILED_PRECONDITION,
                     "the If-Match header with the resource's ETag is required");
            return -1;
        }
        if (req->if_match != NULL && strcmp(req->if_match, "*") != 0)
            set_string_field(msg, "etag", strip_etag(req->arena, req->if_match), req->arena);
    }
    if (r->flags & GW_R_PAGED) {
        const ProtobufCFieldDescriptor *f = gw_field_lookup(in, "page_size");
        if (f != NULL && f->type == PROTOBUF_C_TYPE_INT32) {
            int32_t *ps = (int32_t *)((char *)msg + f->offset);
            if (*ps > gw_cfg.max_page_size)
                *ps = (int32_t)gw_cfg.max_page_size;
        }
    }
    *out = msg;
    return 0;
}

static void call_opts(const gw_request *req, const gw_route *r, kn_call_opts *o)
{
    memset(o, 0, sizeof *o);
    o->timeout_ms = (int)gw_cfg.call_timeout_ms;
    o->authorization = req->authorization;
    o->request_id = req->request_id;
    /* Reads, and creates carrying a request_id, are safe to retry. */
    o->idempotent = strcmp(r->method, "GET") == 0 ||
                    ((r->flags & GW_R_IDEMPOTENCY) && req->idempotency_key != NULL);
}

/* One request in flight: what its completions need. In the request's
 * arena, which the completion thread owns until op->done runs. */
typedef struct {
    gw_request *req;
    gw_response *resp;
    gw_done_fn done;
    void *ud;
    kn_call_opts o;
    /* the create-order saga */
    const char *assignee;
    Konnect__Order__V1__Order *order;
    /* readyz */
    atomic_int pending;
    atomic_int ok[GW_SVC_COUNT];
} gw_op;

static void finish(gw_op *op)
{
    op->done(op->ud);
}

/* Starts rpc of svc; cb runs once (see kn_channel_call_async). */
static void call_rpc(gw_op *op, gw_svc svc, const char *rpc, const ProtobufCMessage *in,
                     const kn_call_opts *o, kn_call_done cb)
{
    gw_request *req = op->req;
    const ProtobufCServiceDescriptor *sd = gw_svc_descriptor(svc);
    const ProtobufCMethodDescriptor *md = protobuf_c_service_descriptor_get_method_by_name(sd, rpc);
    if (gw_channels[svc] == NULL) {
        kn_status st;
        kn_status_set(&st, KN_UNAVAILABLE, "no target for the %s service", gw_svc_label(svc));
        cb(op, st.code, &st, NULL);
        return;
    }
    const char *path = kn_arena_sprintf(req->arena, "/%s/%s", sd->name, rpc);
    kn_channel_call_async(gw_channels[svc], path, in, md->output, req->arena, o, cb, op);
}

static void reply_msg(const gw_route *r, const ProtobufCMessage *out, gw_response *resp)
{
    if (out == NULL) { /* kn_client answers OK only with a message */
        gw_error(resp, 502, KN_INTERNAL, "the service answered OK without a message");
        return;
    }
    if (r->flags & GW_R_ETAG) {
        const ProtobufCFieldDescriptor *f = gw_field_lookup(out->descriptor, "etag");
        if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING) {
            const char *e = *(char *const *)((const char *)out + f->offset);
            if (e != NULL && *e != '\0' && strlen(e) < sizeof resp->etag - 3)
                snprintf(resp->etag, sizeof resp->etag, "\"%s\"", e);
        }
    }
    gw_json_reply(resp, 200, gw_msg_to_json(out));
}

static void grpc_done(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_op *op = ud;
    if (code != KN_OK)
        grpc_error(op->req, op->resp, st);
    else
        reply_msg(op->req->match.route, out, op->resp);
    finish(op);
}

static void handle_grpc(gw_op *op)
{
    gw_request *req = op->req;
    gw_response *resp = op->resp;
    const gw_route *r = req->match.route;
    const ProtobufCMethodDescriptor *md = gw_route_method(r);
    json_t *body = NULL;
    ProtobufCMessage *in = NULL;
    if (r->flags & GW_R_BODY) {
        body = parse_body(req, resp);
        if (body == NULL) {
            finish(op);
            return;
        }
    } else if (req->body_len > 0) {
        gw_error(resp, 400, KN_INVALID_ARGUMENT, "this request takes no body");
        finish(op);
        return;
    }
    int rc = build_request(req, r, md->input, body, &in, resp);
    json_decref(body);
    if (rc != 0) {
        finish(op);
        return;
    }
    call_opts(req, r, &op->o);
    call_rpc(op, r->svc, r->rpc, in, &op->o, grpc_done);
}

/* POST /v1/orders: CreateOrder, then AssignOrder when assigneeUserId is
 * set, then GetOrder for the final state, each step started from the
 * completion of the one before. A saga made idempotent by its steps:
 * CreateOrder with the same request_id answers the same order, and the
 * assignment runs only while the order is still unassigned, so a retry
 * with the same Idempotency-Key finishes what a failed try left. */
static void saga_got(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_op *op = ud;
    (void)st;
    if (code != KN_OK) {
        /* Assigned; answer the order as created with the assignee set. */
        op->order->assignee_user_id = (char *)op->assignee;
        reply_msg(op->req->match.route, &op->order->base, op->resp);
    } else {
        reply_msg(op->req->match.route, out, op->resp);
    }
    finish(op);
}

static void saga_assigned(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_op *op = ud;
    gw_response *resp = op->resp;
    (void)out;
    if (code != KN_OK) {
        /* The order exists; the client retries with the same key to finish. */
        char m[KN_STATUS_MSG_MAX + 128];
        snprintf(m, sizeof m, "order %s was created but not assigned: %s", op->order->id,
                 st->message);
        json_t *details = json_pack("[{s:s,s:s}]", "type", "konnect.gateway.PartialSaga", "orderId",
                                    op->order->id);
        if (st->code == KN_UNAVAILABLE)
            resp->retry_after = 1;
        error_details(resp, gw_http_status(st->code), st->code, m, details);
        finish(op);
        return;
    }
    Konnect__Order__V1__GetOrderRequest greq = KONNECT__ORDER__V1__GET_ORDER_REQUEST__INIT;
    greq.id = op->order->id;
    kn_call_opts go = op->o;
    go.idempotent = 1;
    call_rpc(op, GW_SVC_ORDER, "GetOrder", &greq.base, &go, saga_got);
}

static void saga_created(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_op *op = ud;
    if (code != KN_OK) {
        grpc_error(op->req, op->resp, st);
        finish(op);
        return;
    }
    Konnect__Order__V1__Order *order = (Konnect__Order__V1__Order *)out;
    if (op->assignee == NULL || *op->assignee == '\0' ||
        (order->assignee_user_id != NULL && *order->assignee_user_id != '\0')) {
        reply_msg(op->req->match.route, out, op->resp);
        finish(op);
        return;
    }
    op->order = order;
    Konnect__Assign__V1__AssignOrderRequest areq = KONNECT__ASSIGN__V1__ASSIGN_ORDER_REQUEST__INIT;
    areq.order_id = order->id;
    areq.user_id = (char *)op->assignee;
    kn_call_opts ao = op->o;
    ao.idempotent = 0;
    call_rpc(op, GW_SVC_ASSIGN, "AssignOrder", &areq.base, &ao, saga_assigned);
}

static void handle_create_order(gw_op *op)
{
    gw_request *req = op->req;
    gw_response *resp = op->resp;
    const gw_route *r = req->match.route;
    json_t *body = parse_body(req, resp);
    ProtobufCMessage *in = NULL;
    if (body == NULL) {
        finish(op);
        return;
    }
    json_t *a = json_object_get(body, "assigneeUserId");
    if (a != NULL && !json_is_null(a)) {
        if (!json_is_string(a)) {
            json_decref(body);
            gw_error(resp, 400, KN_INVALID_ARGUMENT, "field \"assigneeUserId\": expected a string");
            finish(op);
            return;
        }
        op->assignee = kn_arena_strdup(req->arena, json_string_value(a));
    }
    json_object_del(body, "assigneeUserId");
    int rc = build_request(req, r, &konnect__order__v1__create_order_request__descriptor, body, &in,
                           resp);
    json_decref(body);
    if (rc != 0) {
        finish(op);
        return;
    }
    call_opts(req, r, &op->o);
    call_rpc(op, GW_SVC_ORDER, "CreateOrder", in, &op->o, saga_created);
}

/* GET /readyz: Health/Check of the services in parallel, each with its own
 * arena (they may complete on different threads); the last to answer
 * writes the response. */
typedef struct {
    gw_op *op;
    int svc;
    kn_arena *arena;
} gw_probe;

static void readyz_reply(gw_op *op)
{
    json_t *svcs = json_object();
    char missing[128] = "";
    for (int s = 0; s < GW_SVC_COUNT; s++) {
        int ok = atomic_load(&op->ok[s]);
        json_object_set_new(svcs, gw_svc_label(s), json_string(ok ? "SERVING" : "NOT_SERVING"));
        if (!ok) {
            size_t n = strlen(missing);
            snprintf(missing + n, sizeof missing - n, "%s%s", n ? ", " : "", gw_svc_label(s));
        }
    }
    json_t *j = json_object();
    if (missing[0] == '\0') {
        json_object_set_new(j, "status", json_string("ok"));
    } else {
        char m[200];
        snprintf(m, sizeof m, "not ready: %s", missing);
        json_object_set_new(j, "status", json_string("unavailable"));
        json_object_set_new(j, "message", json_string(m));
    }
    json_object_set_new(j, "services", svcs);
    gw_json_reply(op->resp, missing[0] == '\0' ? 200 : 503, j);
    finish(op);
}

static void readyz_probed(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *out)
{
    gw_probe *p = ud;
    gw_op *op = p->op;
    (void)st;
    if (code == KN_OK) {
        const Grpc__Health__V1__HealthCheckResponse *r = (const void *)out;
        atomic_store(&op->ok[p->svc],
                     r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    }
    kn_arena_free(p->arena);
    free(p);
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        readyz_reply(op);
}

static void handle_readyz(gw_op *op)
{
    Grpc__Health__V1__HealthCheckRequest hreq = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    hreq.service = "";
    kn_call_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = 1000;
    /* One extra count held while starting, so no probe finishes the op
     * before every probe has started. */
    atomic_store(&op->pending, GW_SVC_COUNT + 1);
    for (int s = 0; s < GW_SVC_COUNT; s++) {
        atomic_store(&op->ok[s], 0);
        if (gw_channels[s] == NULL) {
            atomic_fetch_sub(&op->pending, 1);
            continue;
        }
        gw_probe *p = calloc(1, sizeof *p);
        if (p == NULL)
            abort();
        p->op = op;
        p->svc = s;
        p->arena = kn_arena_new(512);
        kn_channel_call_async(gw_channels[s], "/grpc.health.v1.Health/Check", &hreq.base,
                              &grpc__health__v1__health_check_response__descriptor, p->arena, &o,
                              readyz_probed, p);
    }
    if (atomic_fetch_sub(&op->pending, 1) == 1)
        readyz_reply(op);
}

/* Bearer token checks shared by every authenticated route: present, valid
 * (so a bad token costs no service call), within its rate. */
static int authorize(gw_request *req, gw_response *resp)
{
    const char *h = req->authorization;
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        resp->www_authenticate = 1;
        gw_error(resp, 401, KN_UNAUTHENTICATED, "missing bearer token");
        return -1;
    }
    const char *tok = h + 7;
    if (gw_cfg.jwt_secret_len > 0) {
        kn_identity id;
        kn_status st;
        if (kn_jwt_verify_any(tok, strlen(tok), gw_cfg.jwt_secret, gw_cfg.jwt_secret_len,
                              gw_cfg.jwt_verify_secret, gw_cfg.jwt_verify_secret_len,
                              (int64_t)time(NULL), &id, &st) != KN_OK) {
            resp->www_authenticate = 1;
            gw_error(resp, 401, KN_UNAUTHENTICATED, "%s", st.message);
            return -1;
        }
    }
    int retry = 1;
    if (gw_cfg.rate_rps > 0 && token_limiter != NULL &&
        !gw_limiter_take(token_limiter, tok, (double)gw_cfg.rate_rps, (double)gw_cfg.rate_burst,
                         gw_now_us(), &retry)) {
        resp->retry_after = retry;
        gw_error(resp, 429, KN_RESOURCE_EXHAUSTED, "rate limit exceeded; retry after %d s", retry);
        return -1;
    }
    return 0;
}

void gw_api_start(gw_request *req, gw_response *resp, gw_done_fn done, void *ud)
{
    const gw_route *r = req->match.route;
    if (!(r->flags & GW_R_PUBLIC) && authorize(req, resp) != 0) {
        done(ud);
        return;
    }
    if (r->kind == GW_H_LOGIN) {
        gw_login_start(req, resp, done, ud);
        return;
    }
    gw_op *op = kn_arena_alloc(req->arena, sizeof *op);
    memset(op, 0, sizeof *op);
    op->req = req;
    op->resp = resp;
    op->done = done;
    op->ud = ud;
    switch (r->kind) {
    case GW_H_GRPC:
        handle_grpc(op);
        break;
    case GW_H_CREATE_ORDER:
        handle_create_order(op);
        break;
    case GW_H_READYZ:
        handle_readyz(op);
        break;
    default:
        gw_api_handle_inline(req, resp);
        finish(op);
        break;
    }
}

void gw_api_handle_inline(gw_request *req, gw_response *resp)
{
    const gw_route *r = req->match.route;
    if (r == NULL) {
        gw_static_serve(req->path, resp);
        return;
    }
    switch (r->kind) {
    case GW_H_HEALTHZ:
        gw_json_reply(resp, 200, json_pack("{s:s}", "status", "ok"));
        break;
    case GW_H_METRICS: {
        size_t n;
        char *m = gw_metrics_render(&n);
        resp->status = m ? 200 : 500;
        resp->body = m;
        resp->len = m ? n : 0;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        break;
    }
    case GW_H_OPENAPI:
        if (openapi_doc == NULL) {
            gw_error(resp, 404, KN_NOT_FOUND, "openapi.yaml not found");
            break;
        }
        resp->status = 200;
        resp->body = malloc(openapi_len + 1);
        if (resp->body == NULL) {
            gw_error(resp, 500, KN_INTERNAL, "out of memory");
            break;
        }
        memcpy(resp->body, openapi_doc, openapi_len + 1);
        resp->len = openapi_len;
        resp->content_type = "application/yaml";
        resp->no_store = 0;
        break;
    case GW_H_STATIC:
        gw_static_serve(req->path, resp);
        break;
    default:
        gw_error(resp, 500, KN_INTERNAL, "route %s needs a service call", r->path);
        break;
    }
}

int gw_api_init(void)
{
    token_limiter = gw_limiter_new(65536);
    openapi_doc = gw_read_file(gw_cfg.openapi_path, &openapi_len);
    if (openapi_doc == NULL)
        kn_log_warn("cannot read %s: GET /openapi.yaml will answer 404", gw_cfg.openapi_path);
    return token_limiter != NULL ? 0 : -1;
}

void gw_api_shutdown(void)
{
    gw_limiter_free(token_limiter);
    token_limiter = NULL;
    free(openapi_doc);
    openapi_doc = NULL;
}
