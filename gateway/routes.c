/* The route table and its matcher (see routes.h). */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "konnect/assign/v1/assign.pb-c.h"
#include "konnect/location/v1/location.pb-c.h"
#include "konnect/order/v1/order.pb-c.h"
#include "transcode.h"

#define B   GW_R_BODY
#define Q   GW_R_QUERY
#define IK  GW_R_IDEMPOTENCY
#define IM  GW_R_IF_MATCH
#define IMR (GW_R_IF_MATCH | GW_R_IF_MATCH_REQ)
#define ET  GW_R_ETAG
#define PG  (GW_R_PAGED | GW_R_QUERY)
#define BL  GW_R_BLOCKING

#define ORDER(m, p, rpc, v, f)                                                                     \
    {                                                                                              \
        m, p, GW_H_GRPC, GW_SVC_ORDER, rpc, {v, NULL}, (f) | BL                                    \
    }
#define ASSIGN(m, p, rpc, v, f)                                                                    \
    {                                                                                              \
        m, p, GW_H_GRPC, GW_SVC_ASSIGN, rpc, {v, NULL}, (f) | BL                                   \
    }
#define LOC(m, p, rpc, v, f)                                                                       \
    {                                                                                              \
        m, p, GW_H_GRPC, GW_SVC_LOCATION, rpc, {v, NULL}, (f) | BL                                 \
    }
#define LOC2(m, p, rpc, v1, v2, f)                                                                 \
    {                                                                                              \
        m, p, GW_H_GRPC, GW_SVC_LOCATION, rpc, {v1, v2}, (f) | BL                                  \
    }
#define OWN(m, p, kind, f)                                                                         \
    {                                                                                              \
        m, p, kind, GW_SVC_COUNT, NULL, {NULL, NULL}, f                                            \
    }

/* Order matters only where two templates can match one path: the
 * ":verb" routes come before the plain "{id}" ones (a variable never spans
 * a ':' anyway, see gw_path_match). */
const gw_route gw_routes[] = {
    /* orders */
    ORDER("GET", "/v1/orders", "ListOrders", NULL, PG),
    {"POST",
     "/v1/orders",
     GW_H_CREATE_ORDER,
     GW_SVC_ORDER,
     "CreateOrder",
     {NULL, NULL},
     B | IK | BL},
    ORDER("GET", "/v1/orders/{id}", "GetOrder", "id", ET),
    ORDER("PATCH", "/v1/orders/{id}", "UpdateOrder", "id", B | IMR | ET),
    ORDER("POST", "/v1/orders/{id}:cancel", "CancelOrder", "id", B | IM | ET),
    ASSIGN("POST", "/v1/orders/{id}:assign", "AssignOrder", "order_id", B),
    ASSIGN("POST", "/v1/orders/{id}:unassign", "UnassignOrder", "order_id", B),
    ASSIGN("POST", "/v1/orders/{id}:take", "SelfAssignOrder", "order_id", B),
    ORDER("POST", "/v1/orders/{id}:collect", "CollectOrder", "id", B | ET),
    ORDER("POST", "/v1/orders/{id}/packages:add", "AddPackages", "order_id", B | IM | ET),
    ORDER("POST", "/v1/orders/{id}/packages:remove", "RemovePackages", "order_id", B | IM | ET),
    ORDER("GET", "/v1/orders/{id}/history", "ListOrderHistory", "order_id", PG),
    /* users */
    ASSIGN("GET", "/v1/users", "ListUsers", NULL, PG),
    ASSIGN("POST", "/v1/users", "CreateUser", NULL, B | IK),
    ASSIGN("GET", "/v1/users/{id}", "GetUser", "id", 0),
    ASSIGN("PATCH", "/v1/users/{id}", "UpdateUser", "id", B),
    ASSIGN("GET", "/v1/assignments", "ListAssignments", NULL, PG),
    /* locations, doors, stock */
    LOC("GET", "/v1/locations", "ListLocations", NULL, PG),
    LOC("POST", "/v1/locations", "CreateLocation", NULL, B | IK),
    LOC("GET", "/v1/locations/{id}", "GetLocation", "id", 0),
    LOC("GET", "/v1/locations/{id}/doors", "ListDoors", "location_id", PG),
    LOC("POST", "/v1/locations/{id}/doors", "CreateDoor", "location_id", B),
    LOC2("PATCH", "/v1/locations/{id}/doors/{doorId}", "UpdateDoor", "location_id", "id", B),
    LOC2("GET", "/v1/locations/{id}/doors/{doorId}/contents", "ListDoorContents", "location_id",
         "door_id", 0),
    LOC("GET", "/v1/locations/{id}/stock", "ListStock", "location_id", PG),
    LOC("POST", "/v1/locations/{id}/stock:adjust", "AdjustStock", "location_id", B),
    /* packages and activity */
    LOC("GET", "/v1/packages", "ListPackages", NULL, PG),
    LOC("POST", "/v1/packages", "RegisterPackage", NULL, B | IK),
    LOC("GET", "/v1/packages/{id}", "GetPackage", "id", 0),
    LOC("POST", "/v1/packages/{id}:deliver", "DeliverPackage", "id", B),
    ASSIGN("POST", "/v1/packages/{id}:assign", "AssignPackage", "package_id", B),
    ASSIGN("POST", "/v1/packages/{id}:unassign", "UnassignPackage", "package_id", B),
    LOC("POST", "/v1/packages/{id}:return", "ReturnPackage", "id", B),
    LOC("GET", "/v1/activity", "SearchActivity", NULL, PG),
    /* the gateway's own */
    {"POST",
     "/v1/login",
     GW_H_LOGIN,
     GW_SVC_ASSIGN,
     "Authenticate",
     {NULL, NULL},
     GW_R_PUBLIC | BL},
    OWN("GET", "/healthz", GW_H_HEALTHZ, GW_R_PUBLIC),
    OWN("GET", "/readyz", GW_H_READYZ, GW_R_PUBLIC | BL),
    OWN("GET", "/metrics", GW_H_METRICS, GW_R_PUBLIC),
    OWN("GET", "/openapi.yaml", GW_H_OPENAPI, GW_R_PUBLIC),
    OWN("GET", "/", GW_H_STATIC, GW_R_PUBLIC),
};
const size_t gw_nroutes = sizeof gw_routes / sizeof gw_routes[0];

const ProtobufCServiceDescriptor *gw_svc_descriptor(gw_svc svc)
{
    switch (svc) {
    case GW_SVC_ORDER:
        return &konnect__order__v1__order_service__descriptor;
    case GW_SVC_ASSIGN:
        return &konnect__assign__v1__assign_service__descriptor;
    case GW_SVC_LOCATION:
        return &konnect__location__v1__location_service__descriptor;
    default:
        return NULL;
    }
}

const char *gw_svc_label(gw_svc svc)
{
    static const char *const names[] = {"order", "assign", "location"};
    return svc < GW_SVC_COUNT ? names[svc] : "";
}

const ProtobufCMethodDescriptor *gw_route_method(const gw_route *r)
{
    const ProtobufCServiceDescriptor *sd = gw_svc_descriptor(r->svc);
    if (sd == NULL || r->rpc == NULL)
        return NULL;
    return protobuf_c_service_descriptor_get_method_by_name(sd, r->rpc);
}

/* A variable matches one or more characters up to the template's next
 * literal character, and never a '/' or ':' (so "{id}" does not swallow
 * "x:cancel" and ids stay single segments). */
int gw_path_match(const char *tmpl, const char *path, char *buf, size_t buflen,
                  const char *vals[GW_MAX_VARS], int *nvals)
{
    size_t used = 0;
    *nvals = 0;
    while (*tmpl != '\0') {
        if (*tmpl == '{') {
            const char *close = strchr(tmpl, '}');
            if (close == NULL)
                return 0;
            tmpl = close + 1;
            size_t n = 0;
            while (path[n] != '\0' && path[n] != '/' && path[n] != ':' && path[n] != *tmpl)
                n++;
            if (n == 0 || *nvals >= GW_MAX_VARS || used + n + 1 > buflen)
                return 0;
            memcpy(buf + used, path, n);
            buf[used + n] = '\0';
            vals[(*nvals)++] = buf + used;
            used += n + 1;
            path += n;
            continue;
        }
        if (*tmpl != *path)
            return 0;
        tmpl++;
        path++;
    }
    return *path == '\0';
}

void gw_route_find(const char *method, const char *path, gw_match *m)
{
    memset(m, 0, sizeof *m);
    m->index = -1;
    for (size_t i = 0; i < gw_nroutes; i++) {
        const gw_route *r = &gw_routes[i];
        const char *vals[GW_MAX_VARS];
        int nvals;
        char buf[sizeof m->buf];
        if (!gw_path_match(r->path, path, buf, sizeof buf, vals, &nvals))
            continue;
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            m->route = r;
            m->index = (int)i;
            memcpy(m->buf, buf, sizeof buf);
            for (int k = 0; k < nvals; k++)
                m->vals[k] = m->buf + (vals[k] - buf);
            m->nvals = nvals;
            m->method_mismatch = 0;
            return;
        }
        m->method_mismatch = 1;
        size_t len = strlen(m->allow);
        if (strstr(m->allow, r->method) == NULL && len + strlen(r->method) + 3 < sizeof m->allow)
            snprintf(m->allow + len, sizeof m->allow - len, "%s%s", len ? ", " : "", r->method);
    }
}

/* Output-only fields and fields set from headers. */
static const char *const body_deny[] = {
    "id",          "tenantId",   "status",    "etag",         "createTime", "updateTime",
    "collectTime", "cancelTime", "requestId", "fencingToken", NULL,
};

void gw_route_body_deny(const gw_route *r, gw_body_deny *out)
{
    size_t n = 0;
    for (const char *const *d = body_deny; *d; d++)
        out->names[n++] = *d;
    for (int i = 0; i < GW_MAX_VARS && r->vars[i]; i++) {
        gw_json_name(r->vars[i], out->vars[i], sizeof out->vars[i]);
        out->names[n++] = out->vars[i];
    }
    out->names[n] = NULL;
}

int gw_route_query_param(const gw_route *r, ProtobufCMessage *msg, const char *key,
                         const char *value, ProtobufCAllocator *al, char *err, size_t errlen)
{
    const ProtobufCFieldDescriptor *f = gw_field_lookup(msg->descriptor, key);
    int denied = f == NULL || strcmp(f->name, "request_id") == 0 || strcmp(f->name, "etag") == 0;
    for (int v = 0; !denied && v < GW_MAX_VARS && r->vars[v]; v++)
        denied = strcmp(f->name, r->vars[v]) == 0;
    if (denied) {
        snprintf(err, errlen, "unknown query parameter \"%s\"", key);
        return -1;
    }
    if (value == NULL || value[0] == '\0')
        return 0;
    char ferr[GW_ERR_MAX];
    if (gw_set_field_text(msg, f, value, al, ferr, sizeof ferr) != 0) {
        snprintf(err, errlen, "query parameter %s", ferr);
        return -1;
    }
    return 0;
}
