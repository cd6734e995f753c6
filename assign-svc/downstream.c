/* Calls from assign-svc to order-svc and location-svc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "assign.h"
#include "kn_config.h"
#include "kn_jwt.h"
#include "kn_log.h"

#define ORDER_GET_ORDER         "/konnect.order.v1.OrderService/GetOrder"
#define ORDER_SET_ASSIGNEE      "/konnect.order.v1.OrderService/SetAssignee"
#define LOCATION_GET_PACKAGE    "/konnect.location.v1.LocationService/GetPackage"
#define LOCATION_SET_PKG_ASSIGN "/konnect.location.v1.LocationService/SetPackageAssignee"

#define DOWNSTREAM_TIMEOUT_MS 5000

static kn_channel *order_ch;
static kn_channel *location_ch;
static const kn_service_config *svc_cfg;

kn_code assign_downstream_init(const kn_service_config *cfg, kn_status *st)
{
    svc_cfg = cfg;
    const char *ot = kn_config_str("KN_ORDER_SVC_TARGET", "ipv4:127.0.0.1:7102");
    const char *lt = kn_config_str("KN_LOCATION_SVC_TARGET", "ipv4:127.0.0.1:7101");
    order_ch = kn_channel_new(ot, (int)cfg->max_message_bytes);
    location_ch = kn_channel_new(lt, (int)cfg->max_message_bytes);
    if (!order_ch || !location_ch)
        return kn_status_set(st, KN_INVALID_ARGUMENT,
                             "KN_ORDER_SVC_TARGET / KN_LOCATION_SVC_TARGET: bad target");
    return KN_OK;
}

void assign_downstream_free(void)
{
    if (order_ch)
        kn_channel_free(order_ch);
    if (location_ch)
        kn_channel_free(location_ch);
    order_ch = location_ch = NULL;
}

/* The system identity of the brief: the all-zero user, role hq, the row's
 * tenant, valid for 60 s. Used for reads (a technician's token would not
 * see an order someone else holds) and by the repair loop. */
static const char *system_auth(kn_arena *a, const char *tenant)
{
    kn_identity id;
    memset(&id, 0, sizeof(id));
    snprintf(id.user_id, sizeof(id.user_id), "%s", ASSIGN_SYSTEM_USER);
    snprintf(id.tenant_id, sizeof(id.tenant_id), "%s", tenant);
    id.role = KN_ROLE_HQ;
    int64_t now = (int64_t)time(NULL);
    id.exp = now + 60;
    char tok[1024];
    const char *secret = svc_cfg->jwt_secret ? svc_cfg->jwt_secret : "";
    int n = kn_jwt_sign(&id, now, (const unsigned char *)secret, strlen(secret), tok, sizeof(tok));
    if (n < 0)
        return NULL;
    return kn_arena_sprintf(a, "Bearer %s", tok);
}

static kn_code system_call_once(kn_call *call, kn_arena *a, const char *tenant, kn_channel *ch,
                                const char *path, const ProtobufCMessage *req,
                                const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp,
                                kn_status *st)
{
    kn_call_opts o;
    memset(&o, 0, sizeof(o));
    o.timeout_ms = DOWNSTREAM_TIMEOUT_MS;
    if (call) {
        int64_t left = kn_call_remaining_ms(call);
        if (left <= 0)
            return kn_status_set(st, KN_DEADLINE_EXCEEDED, "deadline exceeded");
        if (left < o.timeout_ms)
            o.timeout_ms = (int)left;
        o.request_id = kn_call_request_id(call);
    }
    o.idempotent = 1;
    o.authorization = system_auth(a, tenant);
    if (!o.authorization)
        return kn_status_set(st, KN_INTERNAL, "cannot sign the system token");
    o.caller_service = svc_cfg->service ? svc_cfg->service : "assign-svc";
    const char *is = svc_cfg->internal_secret ? svc_cfg->internal_secret : "";
    o.internal_secret = (const unsigned char *)is;
    o.internal_secret_len = strlen(is);
    return kn_channel_call(ch, path, req, rd, resp, a, &o, st);
}

/* kn_client retries UNAVAILABLE a few times within ~150 ms; a replica
 * that restarts, or a connection handshake slowed by a loaded machine,
 * needs longer. Every call made here is idempotent (reads, and writes
 * carrying a fencing token that the callee accepts again as a no-op), so
 * UNAVAILABLE is retried with backoff for up to RETRY_BUDGET_MS more,
 * never past the caller's deadline. */
#define RETRY_BUDGET_MS 2000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int retry_after_unavailable(kn_call *call, int64_t start, long *backoff)
{
    int64_t spent = mono_ms() - start;
    if (spent + *backoff > RETRY_BUDGET_MS)
        return 0;
    if (call && kn_call_remaining_ms(call) <= *backoff + 100)
        return 0;
    struct timespec ts = {*backoff / 1000, (*backoff % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    *backoff = *backoff * 2 > 500 ? 500 : *backoff * 2;
    return 1;
}

static kn_code system_call(kn_call *call, kn_arena *a, const char *tenant, kn_channel *ch,
                           const char *path, const ProtobufCMessage *req,
                           const ProtobufCMessageDescriptor *rd, ProtobufCMessage **resp,
                           kn_status *st)
{
    int64_t start = mono_ms();
    long backoff = 50;
    for (;;) {
        kn_code c = system_call_once(call, a, tenant, ch, path, req, rd, resp, st);
        if (c != KN_UNAVAILABLE || !retry_after_unavailable(call, start, &backoff))
            return c;
    }
}

static kn_code downstream(kn_call *call, kn_channel *ch, const char *path,
                          const ProtobufCMessage *req, const ProtobufCMessageDescriptor *rd,
                          ProtobufCMessage **resp, kn_status *st)
{
    int64_t start = mono_ms();
    long backoff = 50;
    for (;;) {
        kn_code c = kn_call_downstream(call, ch, path, req, rd, resp, 1, st);
        if (c != KN_UNAVAILABLE || !retry_after_unavailable(call, start, &backoff))
            return c;
    }
}

kn_code assign_get_order(kn_call *call, kn_arena *a, const char *tenant, const char *order_id,
                         Konnect__Order__V1__Order **out, kn_status *st)
{
    Konnect__Order__V1__GetOrderRequest req = KONNECT__ORDER__V1__GET_ORDER_REQUEST__INIT;
    req.id = (char *)order_id;
    ProtobufCMessage *resp = NULL;
    if (system_call(call, a, tenant, order_ch, ORDER_GET_ORDER, &req.base,
                    &konnect__order__v1__order__descriptor, &resp, st) != KN_OK)
        return st->code;
    *out = (Konnect__Order__V1__Order *)resp;
    return KN_OK;
}

kn_code assign_get_package(kn_call *call, kn_arena *a, const char *tenant, const char *package_id,
                           Konnect__Location__V1__Package **out, kn_status *st)
{
    Konnect__Location__V1__GetPackageRequest req = KONNECT__LOCATION__V1__GET_PACKAGE_REQUEST__INIT;
    req.id = (char *)package_id;
    ProtobufCMessage *resp = NULL;
    if (system_call(call, a, tenant, location_ch, LOCATION_GET_PACKAGE, &req.base,
                    &konnect__location__v1__package__descriptor, &resp, st) != KN_OK)
        return st->code;
    *out = (Konnect__Location__V1__Package *)resp;
    return KN_OK;
}

kn_code assign_set_order_assignee(kn_call *call, kn_arena *a, const char *tenant,
                                  const char *order_id, const char *user, int64_t token,
                                  Konnect__Order__V1__Order **out, kn_status *st)
{
    Konnect__Order__V1__SetAssigneeRequest req = KONNECT__ORDER__V1__SET_ASSIGNEE_REQUEST__INIT;
    req.order_id = (char *)order_id;
    req.assignee_user_id = (char *)user;
    req.fencing_token = token;
    ProtobufCMessage *resp = NULL;
    kn_code c;
    /* Same token, same assignee is an idempotent no-op in order-svc, so a
     * retry after UNAVAILABLE is safe. */
    if (call)
        c = downstream(call, order_ch, ORDER_SET_ASSIGNEE, &req.base,
                       &konnect__order__v1__order__descriptor, &resp, st);
    else
        c = system_call(NULL, a, tenant, order_ch, ORDER_SET_ASSIGNEE, &req.base,
                        &konnect__order__v1__order__descriptor, &resp, st);
    if (c != KN_OK)
        return c;
    if (out)
        *out = (Konnect__Order__V1__Order *)resp;
    return KN_OK;
}

kn_code assign_set_package_assignee(kn_call *call, kn_arena *a, const char *tenant,
                                    char *const *package_ids, size_t n, const char *user,
                                    int64_t token, const char *order_id, kn_status *st)
{
    Konnect__Location__V1__SetPackageAssigneeRequest req =
        KONNECT__LOCATION__V1__SET_PACKAGE_ASSIGNEE_REQUEST__INIT;
    req.package_ids = (char **)package_ids;
    req.n_package_ids = n;
    req.assignee_user_id = (char *)user;
    req.fencing_token = token;
    req.order_id = (char *)(order_id ? order_id : "");
    ProtobufCMessage *resp = NULL;
    if (call)
        return downstream(call, location_ch, LOCATION_SET_PKG_ASSIGN, &req.base,
                          &konnect__location__v1__set_package_assignee_response__descriptor, &resp,
                          st);
    return system_call(NULL, a, tenant, location_ch, LOCATION_SET_PKG_ASSIGN, &req.base,
                       &konnect__location__v1__set_package_assignee_response__descriptor, &resp,
                       st);
}

/* kn_channel_call_all, then the calls that stayed UNAVAILABLE again, all
 * at once, with the backoff and the one budget of a single call: a
 * dependency that is down costs a worker RETRY_BUDGET_MS, not that much per
 * call. Only for idempotent calls. */
static void call_all_retrying(kn_call *call, kn_call_spec *calls, size_t n, kn_arena *a)
{
    int64_t start = mono_ms();
    long backoff = 50;
    kn_channel_call_all(calls, n, a);
    for (;;) {
        kn_call_spec again[KN_CALL_ALL_MAX];
        size_t idx[KN_CALL_ALL_MAX];
        size_t m = 0;
        for (size_t i = 0; i < n && m < KN_CALL_ALL_MAX; i++)
            if (calls[i].code == KN_UNAVAILABLE)
                idx[m++] = i;
        if (m == 0 || !retry_after_unavailable(call, start, &backoff))
            return;
        int64_t left = kn_call_remaining_ms(call);
        for (size_t j = 0; j < m; j++) {
            again[j] = calls[idx[j]];
            if (left < again[j].opts.timeout_ms)
                again[j].opts.timeout_ms = (int)left;
        }
        kn_channel_call_all(again, m, a);
        for (size_t j = 0; j < m; j++)
            calls[idx[j]] = again[j];
    }
}

void assign_set_order_and_packages(kn_call *call, kn_arena *a, const char *order_id,
                                   const char *user, int64_t token, assign_applied *out)
{
    Konnect__Order__V1__SetAssigneeRequest oreq = KONNECT__ORDER__V1__SET_ASSIGNEE_REQUEST__INIT;
    oreq.order_id = (char *)order_id;
    oreq.assignee_user_id = (char *)user;
    oreq.fencing_token = token;
    Konnect__Location__V1__SetPackageAssigneeRequest lreq =
        KONNECT__LOCATION__V1__SET_PACKAGE_ASSIGNEE_REQUEST__INIT;
    lreq.order_id = (char *)order_id; /* no package_ids: the order's */
    lreq.assignee_user_id = (char *)user;
    lreq.fencing_token = token;

    kn_call_spec calls[2];
    memset(calls, 0, sizeof(calls));
    calls[0].ch = order_ch;
    calls[0].method_path = ORDER_SET_ASSIGNEE;
    calls[0].req = &oreq.base;
    calls[0].resp_desc = &konnect__order__v1__order__descriptor;
    calls[1].ch = location_ch;
    calls[1].method_path = LOCATION_SET_PKG_ASSIGN;
    calls[1].req = &lreq.base;
    calls[1].resp_desc = &konnect__location__v1__set_package_assignee_response__descriptor;
    kn_status st;
    kn_status_clear(&st);
    if (kn_call_downstream_opts(call, ORDER_SET_ASSIGNEE, 1, &calls[0].opts, &st) != KN_OK) {
        out->order_code = out->packages_code = st.code;
        out->order_st = out->packages_st = st;
        return;
    }
    calls[1].opts = calls[0].opts;
    call_all_retrying(call, calls, 2, a);
    out->order_code = calls[0].code;
    out->order_st = calls[0].st;
    out->order = (Konnect__Order__V1__Order *)calls[0].resp;
    out->packages_code = calls[1].code;
    out->packages_st = calls[1].st;
    out->packages = (Konnect__Location__V1__SetPackageAssigneeResponse *)calls[1].resp;
}

/* Downstream answers that are about the client's request keep their code;
 * the rest (a misconfigured secret, a bug) must not read as the client's
 * fault. */
kn_code assign_map_downstream(const char *what, const char *id, kn_status *st)
{
    switch (st->code) {
    case KN_NOT_FOUND:
        return kn_status_set(st, KN_NOT_FOUND, "%s %s not found", what, id);
    case KN_FAILED_PRECONDITION:
    case KN_ABORTED:
    case KN_INVALID_ARGUMENT:
    case KN_DEADLINE_EXCEEDED:
        return st->code;
    case KN_UNAVAILABLE:
        kn_log_warn("%s service unavailable: %s", what, st->message);
        return kn_status_set(st, KN_UNAVAILABLE, "%s service unavailable, retry", what);
    default:
        kn_log_error("%s service answered %s: %s", what, kn_code_name(st->code), st->message);
        return kn_status_set(st, KN_INTERNAL, "%s service error", what);
    }
}
