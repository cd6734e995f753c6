/* routes: the gateway's route table (SPEC §6). Each route names an HTTP
 * method and a path template, and either a gRPC method with the request
 * fields its path variables, body, query and headers fill, or one of the
 * gateway's own handlers. `gateway --print-routes` prints the table (the
 * OpenAPI test compares it with gateway/openapi.yaml). */
#ifndef GW_ROUTES_H
#define GW_ROUTES_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef enum { GW_SVC_ORDER = 0, GW_SVC_ASSIGN, GW_SVC_LOCATION, GW_SVC_COUNT } gw_svc;

typedef enum {
    GW_H_GRPC = 0,     /* one gRPC call */
    GW_H_CREATE_ORDER, /* CreateOrder, then AssignOrder when assigneeUserId */
    GW_H_LOGIN,
    GW_H_HEALTHZ,
    GW_H_READYZ,
    GW_H_METRICS,
    GW_H_OPENAPI,
    GW_H_STATIC,
} gw_handler_kind;

enum {
    GW_R_BODY = 1u << 0,         /* the JSON body fills the request */
    GW_R_QUERY = 1u << 1,        /* query parameters fill the request */
    GW_R_IDEMPOTENCY = 1u << 2,  /* Idempotency-Key -> request_id */
    GW_R_IF_MATCH = 1u << 3,     /* If-Match -> etag */
    GW_R_IF_MATCH_REQ = 1u << 4, /* ... and it is required (428 without) */
    GW_R_ETAG = 1u << 5,         /* the response's etag field -> ETag header */
    GW_R_PUBLIC = 1u << 6,       /* no bearer token needed */
    GW_R_PAGED = 1u << 7,        /* has page_size: capped */
    GW_R_BLOCKING = 1u << 8,     /* calls a service: served asynchronously */
};

#define GW_MAX_VARS 2

typedef struct {
    const char *method; /* "GET" */
    const char *path;   /* "/v1/orders/{id}:cancel" */
    gw_handler_kind kind;
    gw_svc svc;
    const char *rpc; /* "CancelOrder" */
    /* The proto field each {var} of path fills, in order. */
    const char *vars[GW_MAX_VARS];
    unsigned flags;
} gw_route;

extern const gw_route gw_routes[];
extern const size_t gw_nroutes;

/* The gRPC service descriptor and name ("konnect.order.v1.OrderService"). */
const ProtobufCServiceDescriptor *gw_svc_descriptor(gw_svc svc);
const char *gw_svc_label(gw_svc svc); /* "order", for errors and readyz */

/* The method descriptor of a GW_H_GRPC route. */
const ProtobufCMethodDescriptor *gw_route_method(const gw_route *r);

/* Matches one path template against path; on success stores up to
 * GW_MAX_VARS variable values (pointers into buf, which holds copies) and
 * returns 1. */
int gw_path_match(const char *tmpl, const char *path, char *buf, size_t buflen,
                  const char *vals[GW_MAX_VARS], int *nvals);

typedef struct {
    const gw_route *route; /* NULL: no route */
    int index;             /* into gw_routes */
    int method_mismatch;   /* a route has the path, none the method */
    char allow[48];        /* for 405: the methods that do match */
    const char *vals[GW_MAX_VARS];
    int nvals;
    char buf[512];
} gw_match;

/* Finds the route for method + path. Static files are not in the table
 * except "/": the caller falls back to the web folder for other GETs. */
void gw_route_find(const char *method, const char *path, gw_match *m);

/* What a request of a route may set, and from where (no mass assignment):
 * a JSON body may not set output-only fields, fields that come from headers
 * (request_id, etag) or the route's path variables. */
#define GW_BODY_DENY_MAX 16
typedef struct {
    const char *names[GW_BODY_DENY_MAX]; /* JSON names, NULL-terminated */
    char vars[GW_MAX_VARS][64];
} gw_body_deny;

void gw_route_body_deny(const gw_route *r, gw_body_deny *out);

/* Applies one query parameter to msg, a request of route r: a field by its
 * JSON or proto name, not request_id, etag or a path variable; an empty
 * value means "not set" (as an HTML form sends it). 0 applied or skipped,
 * -1 refused with err naming the parameter. */
int gw_route_query_param(const gw_route *r, ProtobufCMessage *msg, const char *key,
                         const char *value, ProtobufCAllocator *al, char *err, size_t errlen);

#endif
