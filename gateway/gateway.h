/* gateway: the HTTP/JSON front of Konnect. http.c runs libmicrohttpd and
 * suspends the connection of every request that calls a service while
 * api.c makes its asynchronous gRPC call(s); the completion (on a
 * kn_client completion thread) builds the gw_response and resumes the
 * connection. transcode.c and routes.c are the generic parts; auth.c is
 * login; ratelimit.c the in-memory limiters; metrics.c /metrics. */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "kn_arena.h"
#include "kn_client.h"
#include "kn_jwt.h"
#include "routes.h"

typedef struct {
    const char *listen; /* KN_GATEWAY_LISTEN host:port */
    const char *web_dir;
    const char *openapi_path;
    const char *cors_origins; /* comma-separated, "*" for any */
    const char *targets[GW_SVC_COUNT];
    const unsigned char *jwt_secret;
    size_t jwt_secret_len;
    /* Accepted too, never signs: the second secret of a rotation. */
    const unsigned char *jwt_verify_secret;
    size_t jwt_verify_secret_len;
    long threads;    /* MHD polling threads */
    long cq_threads; /* kn_client completion threads */
    long max_connections;
    long per_ip_connections; /* 0 = no limit */
    long conn_timeout_s;
    long conn_memory; /* bytes per connection for headers + URL */
    long max_body;
    long call_timeout_ms;
    long max_page_size;
    long jwt_ttl_s;
    long rate_rps; /* per token; 0 disables */
    long rate_burst;
    long login_max_failures; /* per account and per address per window */
    long login_window_s;
    long max_message_bytes;
} gw_config;

extern gw_config gw_cfg;
extern kn_channel *gw_channels[GW_SVC_COUNT];

typedef struct {
    const char *key;
    const char *value;
} gw_kv;

/* Everything api.c needs, copied out of the MHD connection so that a
 * completion thread can serve it while the connection is suspended.
 * Strings live in arena. */
typedef struct {
    kn_arena *arena;
    const char *method;
    const char *path;
    gw_kv *query;
    size_t nquery;
    const char *authorization;
    const char *request_id;
    const char *idempotency_key;
    const char *if_match;
    const char *content_type;
    const char *origin;
    const char *client_addr;
    const char *body;
    size_t body_len;
    gw_match match;
} gw_request;

typedef struct {
    int status;
    char *body; /* malloc'd, handed to MHD */
    size_t len;
    const char *content_type;
    char etag[160];
    int retry_after; /* seconds, 0 = no header */
    char allow[64];
    int fd; /* static file, -1 = none */
    size_t fd_size;
    int www_authenticate;
    int no_store;
} gw_response;

/* api.c */
void gw_response_init(gw_response *resp);
/* An error body {"code","message","details":[]} with the HTTP status. */
void gw_error(gw_response *resp, int http_status, int grpc_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void gw_json_reply(gw_response *resp, int status, void *json /* json_t*, stolen */);
int gw_http_status(int grpc_code);
/* Runs once resp is complete. */
typedef void (*gw_done_fn)(void *ud);
/* Serves req (route already matched) into resp without blocking: done(ud)
 * runs exactly once when resp is complete, either on the calling thread
 * before gw_api_start returns (an answer found without a call, or a call
 * that could not start) or later on a kn_client completion thread. req and
 * resp (and req->arena) belong to the call until then. */
void gw_api_start(gw_request *req, gw_response *resp, gw_done_fn done, void *ud);
/* The answer when the route calls no service (on the calling thread). */
void gw_api_handle_inline(gw_request *req, gw_response *resp);
int gw_api_init(void);
void gw_api_shutdown(void);

/* http.c */
int gw_http_start(const char *admin_listen);
void gw_http_stop(void);

/* auth.c: POST /v1/login, asynchronous like gw_api_start. */
void gw_login_start(gw_request *req, gw_response *resp, gw_done_fn done, void *ud);
int gw_auth_init(void);

/* ratelimit.c: fixed tables of hashed keys, LRU-evicted, safe to share. */
typedef struct gw_limiter gw_limiter;
gw_limiter *gw_limiter_new(size_t slots);
void gw_limiter_free(gw_limiter *l);
/* Token bucket: 1 if allowed, 0 if not (*retry_after_s set). */
int gw_limiter_take(gw_limiter *l, const char *key, double rate, double burst, int64_t now_us,
                    int *retry_after_s);
/* Failure counter in a fixed window: gw_limiter_blocked answers 1 (and
 * *retry_after_s) once max failures were recorded in the current window. */
int gw_limiter_blocked(gw_limiter *l, const char *key, int max, int window_s, int64_t now_us,
                       int *retry_after_s);
void gw_limiter_fail(gw_limiter *l, const char *key, int window_s, int64_t now_us);
void gw_limiter_reset(gw_limiter *l, const char *key);

/* metrics.c */
#define GW_ROUTE_STATIC    ((int)gw_nroutes)
#define GW_ROUTE_UNMATCHED ((int)gw_nroutes + 1)
void gw_metrics_observe(int route_index, int status, int64_t duration_us);
void gw_metrics_conn(int delta);
void gw_metrics_slow_client(void);

/* conn_guard.c: closes connections whose request headers take longer than
 * the limit (slow clients), which libmicrohttpd's inactivity timeout misses. */
typedef struct gw_guard_conn gw_guard_conn;
int gw_guard_start(int64_t limit_us);
void gw_guard_stop(void);
gw_guard_conn *gw_guard_open(int fd);
void gw_guard_close(gw_guard_conn *g);
void gw_guard_request_started(gw_guard_conn *g);
void gw_guard_request_done(gw_guard_conn *g);
char *gw_metrics_render(size_t *len);

/* static.c */
void gw_static_serve(const char *path, gw_response *resp);
char *gw_read_file(const char *path, size_t *len);

int64_t gw_now_us(void);

#endif
