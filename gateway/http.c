/* The HTTP server: libmicrohttpd with an internal epoll thread pool.
 *
 * A request that calls a service is not served on the MHD thread: once its
 * body is read (and copied out of the connection into its arena), api.c
 * starts the asynchronous gRPC call(s) and the connection is suspended; the
 * completion, on a kn_client completion thread, builds the response and
 * resumes the connection, and the MHD thread queues the response. No
 * thread waits for a service: a slow one holds memory per request, never a
 * thread or an event loop. Requests that need no service (healthz,
 * metrics, static files, CORS preflight, errors found before routing) are
 * answered on the MHD thread.
 *
 * MHD 0.9.75 pitfall (NOTES-platform.md): queueing or suspending in the
 * first access-handler call of a request makes MHD close the connection
 * afterwards, so the first call only sets up *con_cls. The one exception is
 * a body announced far larger than the limit (a flood): 413 at once, and
 * the close is what we want. A body announced a little over the limit is
 * read and dropped before the 413, because closing while the client is
 * still sending makes its TCP stack reset the connection, and most clients
 * then report a broken pipe instead of the 413 they were sent. */
#include "gateway.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "kn_log.h"

enum { ST_NEW = 0, ST_BODY, ST_WAIT, ST_READY, ST_DONE };

/* How many body bytes are read (and dropped) to answer 413 in order. */
#define GW_DISCARD_LIMIT (4ULL * (unsigned long long)gw_cfg.max_body)

typedef struct gw_ctx {
    int state; /* ST_WAIT -> ST_READY under mu */
    int suspended;
    pthread_mutex_t mu;
    int admin;
    struct MHD_Connection *conn;
    kn_arena *arena;
    char *body;
    size_t len, cap;
    size_t discarded; /* bytes read past the limit, only to answer 413 */
    int too_large;
    int64_t start_us;
    int route_index;
    gw_request req;
    gw_response resp;
} gw_ctx;

static struct MHD_Daemon *daemon_main, *daemon_admin;

/* Requests between gw_api_start and their completion; stopping refuses
 * new ones (checked after counting, so gw_http_stop cannot miss one). */
static atomic_long inflight;
static atomic_int stopping;

/* --- completions ------------------------------------------------------------- */

/* gw_api_start's done: on a completion thread, or on the MHD thread before
 * gw_api_start returns. Whoever comes second of this and the suspension in
 * on_request moves the request on: a suspended connection is resumed here;
 * otherwise on_request sees ST_READY and answers without suspending. */
static void api_done(void *ud)
{
    gw_ctx *c = ud;
    pthread_mutex_lock(&c->mu);
    c->state = ST_READY;
    int resume = c->suspended;
    struct MHD_Connection *conn = c->conn;
    pthread_mutex_unlock(&c->mu);
    /* From here on the MHD thread may answer and free c. A suspended
     * connection stays until resumed, so conn is still valid. */
    if (resume)
        MHD_resume_connection(conn);
    atomic_fetch_sub(&inflight, 1);
}

/* --- CORS --------------------------------------------------------------------- */

static int origin_allowed(const char *origin)
{
    const char *list = gw_cfg.cors_origins;
    size_t on;
    if (origin == NULL || list == NULL || *list == '\0')
        return 0;
    on = strlen(origin);
    while (*list) {
        while (*list == ' ' || *list == ',')
            list++;
        const char *end = list;
        while (*end && *end != ',')
            end++;
        size_t n = (size_t)(end - list);
        while (n > 0 && list[n - 1] == ' ')
            n--;
        if ((n == 1 && *list == '*') || (n == on && strncmp(list, origin, n) == 0))
            return 1;
        list = end;
    }
    return 0;
}

/* --- responses ---------------------------------------------------------------- */

static void observe_and_log(gw_ctx *c)
{
    int64_t dur = gw_now_us() - c->start_us;
    gw_metrics_observe(c->route_index, c->resp.status, dur);
    if (c->resp.status >= 500)
        kn_log_warn("%s %s -> %d in %lld us (request %s)", c->req.method ? c->req.method : "",
                    c->req.path ? c->req.path : "", c->resp.status, (long long)dur,
                    c->req.request_id ? c->req.request_id : "");
    else
        kn_log_debug("%s %s -> %d in %lld us (request %s)", c->req.method ? c->req.method : "",
                     c->req.path ? c->req.path : "", c->resp.status, (long long)dur,
                     c->req.request_id ? c->req.request_id : "");
}

static enum MHD_Result send_response(gw_ctx *c)
{
    gw_response *r = &c->resp;
    struct MHD_Response *mr;
    char buf[32];
    if (r->fd >= 0) {
        mr = MHD_create_response_from_fd(r->fd_size, r->fd);
        if (mr == NULL)
            close(r->fd);
        r->fd = -1;
    } else {
        mr = MHD_create_response_from_buffer(r->len, r->body ? r->body : (void *)"",
                                             r->body ? MHD_RESPMEM_MUST_FREE
                                                     : MHD_RESPMEM_PERSISTENT);
        if (mr == NULL)
            free(r->body);
        r->body = NULL;
    }
    if (mr == NULL)
        return MHD_NO;
    MHD_add_response_header(mr, "Content-Type", r->content_type);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->no_store)
        MHD_add_response_header(mr, "Cache-Control", "no-store");
    else
        MHD_add_response_header(mr, "Cache-Control", "no-cache");
    if (c->req.request_id)
        MHD_add_response_header(mr, "X-Request-Id", c->req.request_id);
    if (r->etag[0])
        MHD_add_response_header(mr, "ETag", r->etag);
    if (r->retry_after > 0) {
        snprintf(buf, sizeof buf, "%d", r->retry_after);
        MHD_add_response_header(mr, "Retry-After", buf);
    }
    if (r->allow[0])
        MHD_add_response_header(mr, "Allow", r->allow);
    if (r->www_authenticate)
        MHD_add_response_header(mr, "WWW-Authenticate", "Bearer");
    if (origin_allowed(c->req.origin)) {
        MHD_add_response_header(mr, "Access-Control-Allow-Origin", c->req.origin);
        MHD_add_response_header(mr, "Access-Control-Expose-Headers",
                                "ETag, Retry-After, X-Request-Id");
        MHD_add_response_header(mr, "Vary", "Origin");
    }
    if (r->status == 413)
        MHD_add_response_header(mr, "Connection", "close");
    observe_and_log(c);
    enum MHD_Result ret = MHD_queue_response(c->conn, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    c->state = ST_DONE;
    return ret;
}

static enum MHD_Result send_preflight(gw_ctx *c)
{
    const char *acrm =
        MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "Access-Control-Request-Method");
    gw_response *r = &c->resp;
    if (acrm == NULL) {
        /* A plain OPTIONS: which methods the path has. */
        r->status = 204;
        if (c->req.match.route)
            snprintf(r->allow, sizeof r->allow, "OPTIONS, %s", c->req.match.route->method);
        else if (c->req.match.method_mismatch)
            snprintf(r->allow, sizeof r->allow, "OPTIONS, %s", c->req.match.allow);
        else
            gw_error(r, 404, KN_NOT_FOUND, "no route for %s", c->req.path);
        return send_response(c);
    }
    if (!origin_allowed(c->req.origin)) {
        gw_error(r, 403, KN_PERMISSION_DENIED, "origin not allowed");
        return send_response(c);
    }
    struct MHD_Response *mr =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (mr == NULL)
        return MHD_NO;
    MHD_add_response_header(mr, "Access-Control-Allow-Origin", c->req.origin);
    MHD_add_response_header(mr, "Access-Control-Allow-Methods",
                            "GET, POST, PATCH, DELETE, OPTIONS");
    MHD_add_response_header(mr, "Access-Control-Allow-Headers",
                            "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-Id");
    MHD_add_response_header(mr, "Access-Control-Max-Age", "600");
    MHD_add_response_header(mr, "Vary", "Origin");
    r->status = 204;
    observe_and_log(c);
    enum MHD_Result ret = MHD_queue_response(c->conn, 204, mr);
    MHD_destroy_response(mr);
    c->state = ST_DONE;
    return ret;
}

/* --- request capture ------------------------------------------------------- */

static const char *header(gw_ctx *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
    return v ? kn_arena_strdup(c->arena, v) : NULL;
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    (void)key;
    (void)value;
    (*(size_t *)cls)++;
    return MHD_YES;
}

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    gw_ctx *c = cls;
    (void)kind;
    c->req.query[c->req.nquery].key = kn_arena_strdup(c->arena, key);
    c->req.query[c->req.nquery].value = value ? kn_arena_strdup(c->arena, value) : "";
    c->req.nquery++;
    return MHD_YES;
}

static int sane_request_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 128 || s[n] <= ' ' || s[n] > '~')
            return 0;
    return n > 0;
}

/* A random (v4-shaped) request id from a per-thread xorshift generator
 * seeded once from the kernel: ids need to be unique, not secret, and a
 * getrandom() per request is a measurable syscall here. */
static const char *new_request_id(kn_arena *a)
{
    static _Thread_local uint64_t s[2];
    unsigned char b[16];
    if (s[0] == 0 && s[1] == 0) {
        if (getrandom(s, sizeof s, 0) != sizeof s || (s[0] == 0 && s[1] == 0))
            s[0] = (uint64_t)gw_now_us() | 1;
    }
    for (int half = 0; half < 2; half++) {
        uint64_t x = s[0], y = s[1];
        s[0] = y;
        x ^= x << 23;
        s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
        uint64_t v = s[1] + y;
        memcpy(b + (size_t)half * 8, &v, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return kn_arena_sprintf(
        a, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
        b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void capture(gw_ctx *c, const char *url, const char *method)
{
    gw_request *q = &c->req;
    q->arena = c->arena;
    q->method = kn_arena_strdup(c->arena, method);
    q->path = kn_arena_strdup(c->arena, url);
    q->authorization = header(c, "Authorization");
    const char *rid = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-Request-Id");
    q->request_id =
        rid && sane_request_id(rid) ? kn_arena_strdup(c->arena, rid) : new_request_id(c->arena);
    q->idempotency_key = header(c, "Idempotency-Key");
    q->if_match = header(c, "If-Match");
    q->content_type = header(c, "Content-Type");
    q->origin = header(c, "Origin");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char host[INET6_ADDRSTRLEN] = "";
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, host, sizeof host);
    }
    q->client_addr = kn_arena_strdup(c->arena, host);
    size_t n = 0;
    MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, count_arg, &n);
    if (n > 0) {
        q->query = kn_arena_alloc(c->arena, n * sizeof *q->query);
        MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, copy_arg, c);
    }
}

static int admin_path(const char *url)
{
    return strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0 ||
           strcmp(url, "/metrics") == 0;
}

/* --- the access handler ------------------------------------------------- */

static gw_guard_conn *conn_guard(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    gw_ctx *c = *con_cls;
    (void)version;
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL)
            return MHD_NO;
        c->conn = conn;
        pthread_mutex_init(&c->mu, NULL);
        c->admin = cls != NULL;
        c->arena = kn_arena_new(4096);
        c->start_us = gw_now_us();
        c->route_index = GW_ROUTE_UNMATCHED;
        gw_response_init(&c->resp);
        *con_cls = c;
        gw_guard_request_started(conn_guard(conn));
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        unsigned long long announced = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (announced > GW_DISCARD_LIMIT) {
            capture(c, url, method);
            gw_error(&c->resp, 413, KN_RESOURCE_EXHAUSTED, "the request body exceeds %ld bytes",
                     gw_cfg.max_body);
            return send_response(c);
        }
        c->too_large = announced > (unsigned long long)gw_cfg.max_body;
        c->state = ST_BODY;
        return MHD_YES;
    }
    switch (c->state) {
    case ST_BODY:
        break;
    case ST_READY:
        c->suspended = 0;
        return send_response(c);
    case ST_WAIT:
    case ST_DONE:
    default:
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (c->too_large || c->len + n > (size_t)gw_cfg.max_body) {
            c->too_large = 1;
            /* Reading on only to answer 413 politely; give up on a flood. */
            c->discarded += n;
            return c->len + c->discarded > GW_DISCARD_LIMIT ? MHD_NO : MHD_YES;
        }
        if (c->len + n > c->cap) {
            size_t cap = c->cap ? c->cap : 1024;
            while (cap < c->len + n)
                cap *= 2;
            char *nb = realloc(c->body, cap + 1);
            if (nb == NULL)
                return MHD_NO;
            c->body = nb;
            c->cap = cap;
        }
        memcpy(c->body + c->len, upload_data, n);
        c->len += n;
        c->body[c->len] = '\0';
        return MHD_YES;
    }

    /* The whole request is here. */
    capture(c, url, method);
    c->req.body = c->body;
    c->req.body_len = c->len;
    if (c->too_large) {
        gw_error(&c->resp, 413, KN_RESOURCE_EXHAUSTED, "the request body exceeds %ld bytes",
                 gw_cfg.max_body);
        return send_response(c);
    }
    const char *route_method = strcmp(method, "OPTIONS") == 0 ? "GET" : method;
    gw_route_find(route_method, url, &c->req.match);
    if (strcmp(method, "OPTIONS") == 0) {
        /* Find the route of any method for the Allow header. */
        gw_match any;
        static const char *const methods[] = {"GET", "POST", "PATCH"};
        for (size_t i = 0; c->req.match.route == NULL && i < 3; i++) {
            gw_route_find(methods[i], url, &any);
            if (any.route != NULL)
                c->req.match = any;
        }
        c->route_index = c->req.match.index >= 0 ? c->req.match.index : GW_ROUTE_UNMATCHED;
        return send_preflight(c);
    }
    if (c->admin && !admin_path(url)) {
        gw_error(&c->resp, 404, KN_NOT_FOUND, "no route for %s %s", method, url);
        return send_response(c);
    }
    if (c->req.match.route == NULL) {
        if (c->req.match.method_mismatch) {
            snprintf(c->resp.allow, sizeof c->resp.allow, "%s", c->req.match.allow);
            gw_error(&c->resp, 405, KN_UNIMPLEMENTED, "method %s not allowed on %s", method, url);
        } else if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
                   strncmp(url, "/v1/", 4) != 0 && strcmp(url, "/v1") != 0) {
            c->route_index = GW_ROUTE_STATIC;
            gw_static_serve(url, &c->resp);
        } else {
            gw_error(&c->resp, 404, KN_NOT_FOUND, "no route for %s %s", method, url);
        }
        return send_response(c);
    }
    c->route_index = c->req.match.index;
    if (!(c->req.match.route->flags & GW_R_BLOCKING)) {
        gw_api_handle_inline(&c->req, &c->resp);
        return send_response(c);
    }
    atomic_fetch_add(&inflight, 1);
    if (atomic_load(&stopping)) {
        atomic_fetch_sub(&inflight, 1);
        gw_error(&c->resp, 503, KN_UNAVAILABLE, "the gateway is shutting down");
        return send_response(c);
    }
    c->state = ST_WAIT;
    gw_api_start(&c->req, &c->resp, api_done, c);
    pthread_mutex_lock(&c->mu);
    if (c->state == ST_READY) {
        /* Answered already (an error found before any call, or a fast
         * completion): no suspension needed. */
        pthread_mutex_unlock(&c->mu);
        return send_response(c);
    }
    c->suspended = 1;
    MHD_suspend_connection(conn);
    pthread_mutex_unlock(&c->mu);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    gw_ctx *c = *con_cls;
    (void)cls;
    (void)toe;
    gw_guard_request_done(conn_guard(conn));
    if (c == NULL)
        return;
    if (c->state != ST_DONE && c->state != ST_NEW) {
        /* Cut off before an answer (timeout, client gone): count it. */
        c->resp.status = 408;
        observe_and_log(c);
    }
    free(c->resp.body);
    if (c->resp.fd >= 0)
        close(c->resp.fd);
    free(c->body);
    kn_arena_free(c->arena);
    pthread_mutex_destroy(&c->mu);
    free(c);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        gw_metrics_conn(1);
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci != NULL ? gw_guard_open(ci->connect_fd) : NULL;
    } else {
        gw_metrics_conn(-1);
        gw_guard_close(*socket_context);
        *socket_context = NULL;
    }
}

/* --- start / stop -------------------------------------------------------- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, int *ipv6)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    const char *h = host;
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 2 || host[n - 1] != ']')
            return -1;
        host[n - 1] = '\0';
        h = host + 1;
    }
    if (*h == '\0')
        h = "0.0.0.0";
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(h, colon + 1, &hints, &res) != 0 || res == NULL)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

static struct MHD_Daemon *start_daemon(const char *listen, int admin, unsigned threads)
{
    struct sockaddr_storage ss;
    int ipv6 = 0;
    if (parse_listen(listen, &ss, &ipv6) != 0) {
        kn_log_error("cannot parse listen address \"%s\"", listen);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ipv6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, admin ? (void *)1 : NULL,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)gw_cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)gw_cfg.per_ip_connections, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)gw_cfg.conn_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                            (size_t)gw_cfg.conn_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL, MHD_OPTION_END);
}

int gw_http_start(const char *admin_listen)
{
    atomic_store(&stopping, 0);
    if (gw_guard_start((int64_t)gw_cfg.conn_timeout_s * 1000000) != 0)
        return -1;
    daemon_main = start_daemon(gw_cfg.listen, 0, (unsigned)gw_cfg.threads);
    if (daemon_main == NULL) {
        kn_log_error("cannot listen on %s", gw_cfg.listen);
        return -1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(daemon_main, MHD_DAEMON_INFO_BIND_PORT);
    kn_log_info("gateway listening on %s (port %u)", gw_cfg.listen, di ? di->port : 0);
    if (admin_listen != NULL && *admin_listen != '\0') {
        daemon_admin = start_daemon(admin_listen, 1, 1);
        if (daemon_admin == NULL) {
            kn_log_error("cannot listen on %s (KN_GATEWAY_ADMIN_LISTEN)", admin_listen);
            return -1;
        }
        kn_log_info("gateway admin endpoints on %s", admin_listen);
    }
    return 0;
}

void gw_http_stop(void)
{
    /* Stop accepting, let the requests in flight complete (each resumes its
     * connection; every call has a deadline), then stop the daemons: MHD
     * must not be stopped with connections suspended. */
    if (daemon_main)
        MHD_quiesce_daemon(daemon_main);
    if (daemon_admin)
        MHD_quiesce_daemon(daemon_admin);
    atomic_store(&stopping, 1);
    int64_t give_up = gw_now_us() + (gw_cfg.call_timeout_ms + 2000) * 1000;
    while (atomic_load(&inflight) > 0 && gw_now_us() < give_up) {
        struct timespec ts = {0, 5L * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&inflight) > 0) {
        /* Their completions still need the connections: leave MHD be. */
        kn_log_warn("%ld requests still in flight at shutdown", (long)atomic_load(&inflight));
        return;
    }
    if (daemon_main)
        MHD_stop_daemon(daemon_main);
    if (daemon_admin)
        MHD_stop_daemon(daemon_admin);
    daemon_main = daemon_admin = NULL;
    gw_guard_stop();
}
