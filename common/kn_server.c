/* kn_server: unary gRPC server on the core completion-queue API, plus the
 * runtime's own grpc.health.v1.Health.
 *
 * Each worker thread owns one completion queue and the slots (kn_call)
 * posted on it; a slot goes NEW (request posted) -> RECV (metadata sent,
 * message received) -> handler -> DONE (status sent). Everything about a
 * call happens on its worker's thread, so no slot is ever shared. Health
 * Watch streams are slots that stay alive on their worker; the worker wakes
 * at least every KN_POLL_MS to push status changes to them. */
#include "kn_server.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "grpc/health/v1/health.pb-c.h"
#include "kn_internal.h"
#include "kn_log.h"
#include "kn_metrics.h"

#define KN_POLL_MS        200
#define KN_DRAIN_REQUESTS 64 /* per worker, posted when the drain starts */
#define KN_REQUEST_ID_MAX 128

enum {
    KN_HEALTH_SERVING = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING,
    KN_HEALTH_NOT_SERVING = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING,
    KN_HEALTH_SERVICE_UNKNOWN =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN,
};

#define KN_HEALTH_LIVENESS "liveness"

/* Flag of the runtime's Watch method only (streaming). */
#define KN_METHOD_WATCH (1u << 16)

typedef enum { KN_TAG_NEW, KN_TAG_RECV, KN_TAG_DONE, KN_TAG_WSEND, KN_TAG_WCLOSE } kn_tag_kind;

typedef struct {
    kn_call *call;
    kn_tag_kind kind;
} kn_tag;

typedef struct {
    char *path; /* "/pkg.Service/Method" */
    size_t path_len;
    const ProtobufCServiceDescriptor *svc;
    const ProtobufCMethodDescriptor *md;
    kn_handler fn;
    unsigned flags;
    int metrics_idx; /* kn_metrics_method_register(path) */
} kn_method;

typedef struct kn_wk kn_wk;

struct kn_call {
    kn_wk *w;
    kn_server *s;
    grpc_call *gc;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *recv_buf;
    grpc_byte_buffer *send_buf;
    grpc_slice status_details;
    int has_status_details;
    int cancelled; /* from RECV_CLOSE_ON_SERVER */
    kn_tag t_new, t_recv, t_done, t_wsend, t_wclose;

    int64_t start_us;
    gpr_timespec deadline; /* monotonic */
    const kn_method *m;
    kn_identity identity;
    const char *token;
    const char *request_id;
    const char *peer_service;
    kn_status st;

    /* Watch streams */
    int refs;
    int w_known;
    int w_last;
    int w_send_pending;
    int w_status_sent;
    int w_closed;
    kn_call *w_next, *w_prev;
};

struct kn_wk {
    kn_server *s;
    int index;
    pthread_t tid;
    int started;
    grpc_completion_queue *cq;
    kn_arena *arena;
    void *ctx;
    /* Atomic because the stopping thread posts the drain requests. */
    atomic_int nslots; /* slots alive on this queue */
    atomic_int posted; /* of which requests not yet matched to a call */
    int cq_shut;
    kn_call *watchers;
    int seen_health;
    int seen_stopping;
    /* Generated request ids: a random prefix per worker and a counter. */
    char rid_prefix[17];
    uint64_t rid_next;
};

struct kn_server {
    kn_server_config cfg;
    char *service;
    char *listen;
    unsigned char *jwt_secret;
    unsigned char *jwt_verify_secret;
    unsigned char *internal_secret;

    kn_method *methods;
    size_t nmethods;
    char **health_names; /* "" and each added service's full name */
    size_t nhealth_names;

    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    kn_wk *workers;
    int nworkers;
    int port;
    int started;
    int finished;

    atomic_int health;
    atomic_int stopping;    /* shutdown started: no new slots, health NOT_SERVING */
    atomic_int server_down; /* shutdown tag received: queues may close */
    atomic_int stop_requested;

    pthread_t ready_tid;
    int ready_started;
    pthread_mutex_t ready_mu;
    pthread_cond_t ready_cv;
    int ready_stop;
};

static int64_t kn_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void kn_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static gpr_timespec kn_deadline_ms(int64_t ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* --- runtime ------------------------------------------------------------ */

void kn_runtime_init(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (sodium_init() < 0) {
        kn_log_error("libsodium failed to initialise");
        abort();
    }
    grpc_init();
}

void kn_runtime_shutdown(void)
{
    kn_client_thread_cleanup();
    grpc_shutdown();
}

/* --- caller signature ----------------------------------------------------- */

void kn_caller_sig(const unsigned char *secret, size_t secret_len, const char *caller,
                   const char *token, char out[KN_CALLER_SIG_MAX])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state h;
    crypto_auth_hmacsha256_init(&h, secret, secret_len);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)caller, strlen(caller));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)"\n", 1);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)token, strlen(token));
    crypto_auth_hmacsha256_final(&h, mac);
    sodium_bin2base64(out, KN_CALLER_SIG_MAX, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(&h, sizeof h);
}

/* --- server setup ----------------------------------------------------------- */

static void *kn_xmemdup(const void *p, size_t n)
{
    unsigned char *d = malloc(n + 1);
    if (d == NULL)
        abort();
    if (n > 0)
        memcpy(d, p, n);
    d[n] = 0;
    return d;
}

static char *kn_xstrdup(const char *s)
{
    return kn_xmemdup(s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void kn_add_health_name(kn_server *s, const char *name)
{
    char **n = realloc(s->health_names, (s->nhealth_names + 1) * sizeof *n);
    if (n == NULL)
        abort();
    s->health_names = n;
    s->health_names[s->nhealth_names++] = kn_xstrdup(name);
}

static kn_code kn_health_check(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

static kn_code kn_add_methods(kn_server *s, const ProtobufCServiceDescriptor *svc,
                              const kn_method_binding *bindings, size_t n, kn_status *st)
{
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (unsigned j = 0; j < svc->n_methods; j++)
            found |=
                bindings[i].method != NULL && strcmp(svc->methods[j].name, bindings[i].method) == 0;
        if (!found)
            return kn_status_set(st, KN_INTERNAL, "binding %s is not a method of %s",
                                 bindings[i].method ? bindings[i].method : "(null)", svc->name);
    }
    for (size_t k = 0; k < s->nmethods; k++) {
        if (s->methods[k].svc == svc || strcmp(s->methods[k].svc->name, svc->name) == 0)
            return kn_status_set(st, KN_INTERNAL, "service %s added twice", svc->name);
    }
    kn_method *m = realloc(s->methods, (s->nmethods + svc->n_methods) * sizeof *m);
    if (m == NULL)
        abort();
    s->methods = m;
    for (unsigned j = 0; j < svc->n_methods; j++) {
        kn_method *e = &s->methods[s->nmethods++];
        memset(e, 0, sizeof *e);
        e->svc = svc;
        e->md = &svc->methods[j];
        size_t len = strlen(svc->name) + strlen(e->md->name) + 2;
        e->path = malloc(len + 1);
        if (e->path == NULL)
            abort();
        snprintf(e->path, len + 1, "/%s/%s", svc->name, e->md->name);
        e->metrics_idx = kn_metrics_method_register(e->path);
        e->path_len = strlen(e->path);
        for (size_t i = 0; i < n; i++) {
            if (strcmp(bindings[i].method, e->md->name) == 0) {
                e->fn = bindings[i].fn;
                e->flags = bindings[i].flags;
            }
        }
    }
    return KN_OK;
}

kn_server *kn_server_new(const kn_server_config *cfg)
{
    kn_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    s->cfg = *cfg;
    s->service = kn_xstrdup(cfg->service ? cfg->service : "konnect");
    s->listen = kn_xstrdup(cfg->listen ? cfg->listen : "127.0.0.1:0");
    s->jwt_secret = kn_xmemdup(cfg->jwt_secret ? (const void *)cfg->jwt_secret : "",
                               cfg->jwt_secret ? cfg->jwt_secret_len : 0);
    s->jwt_verify_secret =
        kn_xmemdup(cfg->jwt_verify_secret ? (const void *)cfg->jwt_verify_secret : "",
                   cfg->jwt_verify_secret ? cfg->jwt_verify_secret_len : 0);
    s->internal_secret = kn_xmemdup(cfg->internal_secret ? (const void *)cfg->internal_secret : "",
                                    cfg->internal_secret ? cfg->internal_secret_len : 0);
    s->cfg.service = s->service;
    s->cfg.listen = s->listen;
    s->cfg.jwt_secret = s->jwt_secret;
    s->cfg.jwt_secret_len = cfg->jwt_secret ? cfg->jwt_secret_len : 0;
    s->cfg.jwt_verify_secret = s->jwt_verify_secret;
    s->cfg.jwt_verify_secret_len = cfg->jwt_verify_secret ? cfg->jwt_verify_secret_len : 0;
    s->cfg.internal_secret = s->internal_secret;
    s->cfg.internal_secret_len = cfg->internal_secret ? cfg->internal_secret_len : 0;
    if (s->cfg.workers <= 0)
        s->cfg.workers = 1;
    if (s->cfg.workers > 256)
        s->cfg.workers = 256;
    if (s->cfg.max_message_bytes <= 0)
        s->cfg.max_message_bytes = 4 * 1024 * 1024;
    if (s->cfg.grace_ms < 0)
        s->cfg.grace_ms = 0;
    if (s->cfg.ready_interval_ms <= 0)
        s->cfg.ready_interval_ms = 1000;
    atomic_init(&s->health, KN_HEALTH_NOT_SERVING);
    atomic_init(&s->stopping, 0);
    atomic_init(&s->server_down, 0);
    atomic_init(&s->stop_requested, 0);
    pthread_mutex_init(&s->ready_mu, NULL);
    pthread_cond_init(&s->ready_cv, NULL);

    static const kn_method_binding health_bindings[] = {
        {"Check", kn_health_check, KN_METHOD_PUBLIC},
        {"Watch", NULL, KN_METHOD_PUBLIC | KN_METHOD_WATCH},
    };
    kn_status st;
    kn_add_methods(s, &grpc__health__v1__health__descriptor, health_bindings, 2, &st);
    kn_add_health_name(s, "");
    return s;
}

kn_code kn_server_add_service(kn_server *s, const ProtobufCServiceDescriptor *svc,
                              const kn_method_binding *bindings, size_t n, kn_status *st)
{
    if (s->started)
        return kn_status_set(st, KN_INTERNAL, "kn_server_add_service after start");
    if (svc == NULL || (n > 0 && bindings == NULL))
        return kn_status_set(st, KN_INTERNAL, "kn_server_add_service: no service");
    kn_code rc = kn_add_methods(s, svc, bindings, n, st);
    if (rc != KN_OK)
        return rc;
    kn_add_health_name(s, svc->name);
    return KN_OK;
}

/* --- calls -------------------------------------------------------------------- */

static kn_call *kn_slot_new(kn_wk *w)
{
    kn_call *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    c->w = w;
    c->s = w->s;
    c->t_new = (kn_tag){c, KN_TAG_NEW};
    c->t_recv = (kn_tag){c, KN_TAG_RECV};
    c->t_done = (kn_tag){c, KN_TAG_DONE};
    c->t_wsend = (kn_tag){c, KN_TAG_WSEND};
    c->t_wclose = (kn_tag){c, KN_TAG_WCLOSE};
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    w->nslots++;
    return c;
}

static void kn_slot_free(kn_call *c)
{
    kn_wk *w = c->w;
    if (c->gc != NULL)
        grpc_call_unref(c->gc);
    if (c->recv_buf != NULL)
        grpc_byte_buffer_destroy(c->recv_buf);
    if (c->send_buf != NULL)
        grpc_byte_buffer_destroy(c->send_buf);
    if (c->has_status_details)
        grpc_slice_unref(c->status_details);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    free(c);
    w->nslots--;
}

static void kn_post_request(kn_wk *w)
{
    kn_call *c = kn_slot_new(w);
    grpc_call_error e = grpc_server_request_call(w->s->server, &c->gc, &c->details, &c->md, w->cq,
                                                 w->cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        kn_log_error("grpc_server_request_call failed: %d", (int)e);
        kn_slot_free(c);
        return;
    }
    w->posted++;
}

static void kn_post_slot(kn_wk *w)
{
    if (!atomic_load(&w->s->stopping))
        kn_post_request(w);
}

kn_arena *kn_call_arena(kn_call *call)
{
    return call->w->arena;
}

const kn_identity *kn_call_identity(kn_call *call)
{
    return &call->identity;
}

const char *kn_call_token(kn_call *call)
{
    return call->token != NULL ? call->token : "";
}

const char *kn_call_request_id(kn_call *call)
{
    return call->request_id != NULL ? call->request_id : "";
}

static const grpc_slice *kn_md_find(kn_call *call, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < call->md.count; i++) {
        const grpc_slice *k = &call->md.metadata[i].key;
        if (GRPC_SLICE_LENGTH(*k) == klen && memcmp(GRPC_SLICE_START_PTR(*k), key, klen) == 0)
            return &call->md.metadata[i].value;
    }
    return NULL;
}

const char *kn_call_metadata(kn_call *call, const char *key)
{
    const grpc_slice *v = kn_md_find(call, key);
    if (v == NULL)
        return NULL;
    /* Not strndup: a value may hold NULs (binary headers); keep all bytes. */
    size_t n = GRPC_SLICE_LENGTH(*v);
    char *p = kn_arena_alloc(call->w->arena, n + 1);
    memcpy(p, GRPC_SLICE_START_PTR(*v), n);
    p[n] = '\0';
    return p;
}

const char *kn_call_peer_service(kn_call *call)
{
    return call->peer_service;
}

const char *kn_call_service_name(kn_call *call)
{
    return call->s->service;
}

int64_t kn_call_remaining_ms(kn_call *call)
{
    gpr_timespec inf = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    if (gpr_time_cmp(call->deadline, inf) >= 0 || call->deadline.tv_sec == INT64_MAX)
        return INT64_MAX;
    gpr_timespec left = gpr_time_sub(call->deadline, gpr_now(GPR_CLOCK_MONOTONIC));
    return gpr_time_to_millis(left);
}

void *kn_call_worker(kn_call *call)
{
    return call->w->ctx;
}

int kn_call_worker_index(kn_call *call)
{
    return call->w->index;
}

void kn_call_internal_secret(kn_call *call, const unsigned char **secret, size_t *len)
{
    *secret = call->s->cfg.internal_secret;
    *len = call->s->cfg.internal_secret_len;
}

kn_code kn_call_error(kn_call *call, kn_code code, const char *fmt, ...)
{
    call->st.code = code;
    call->st.message[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(call->st.message, sizeof call->st.message, fmt, ap);
        va_end(ap);
    }
    return code;
}

kn_code kn_call_fail(kn_call *call, const kn_status *st)
{
    call->st = *st;
    return st->code;
}

kn_code kn_call_require_role(kn_call *call, kn_role role)
{
    if (call->identity.role == role)
        return KN_OK;
    return kn_call_error(call, KN_PERMISSION_DENIED, "this method requires the %s role",
                         kn_role_name(role));
}

/* "NOT_FOUND" -> "not found": what a client sees when a handler gave no text. */
static void kn_generic_message(kn_code code, char *out, size_t n)
{
    const char *name = kn_code_name(code);
    size_t i = 0;
    for (; name[i] != '\0' && i + 1 < n; i++)
        out[i] = name[i] == '_' ? ' ' : (char)(name[i] | 0x20);
    out[i] = '\0';
}

/* Path bytes come from the client: printable ASCII only in messages and logs. */
static char *kn_printable(kn_arena *a, const grpc_slice *sl, size_t max)
{
    size_t n = GRPC_SLICE_LENGTH(*sl);
    if (n > max)
        n = max;
    char *p = kn_arena_alloc(a, n + 1);
    const unsigned char *src = GRPC_SLICE_START_PTR(*sl);
    for (size_t i = 0; i < n; i++)
        p[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
    p[n] = '\0';
    return p;
}

static const char *kn_request_id(kn_call *c)
{
    const grpc_slice *v = kn_md_find(c, "x-request-id");
    if (v != NULL) {
        size_t n = GRPC_SLICE_LENGTH(*v);
        const unsigned char *p = GRPC_SLICE_START_PTR(*v);
        int ok = n > 0 && n <= KN_REQUEST_ID_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = p[i] > 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\';
        if (ok)
            return kn_arena_strndup(c->w->arena, (const char *)p, n);
    }
    /* An id must be unique, not secret: a getrandom() per call cost more
     * than the rest of a Health check's own work. */
    return kn_arena_sprintf(c->w->arena, "%s%016" PRIx64, c->w->rid_prefix, c->w->rid_next++);
}

static const kn_method *kn_find_method(kn_server *s, const grpc_slice *path)
{
    size_t n = GRPC_SLICE_LENGTH(*path);
    const void *p = GRPC_SLICE_START_PTR(*path);
    for (size_t i = 0; i < s->nmethods; i++) {
        if (s->methods[i].path_len == n && memcmp(s->methods[i].path, p, n) == 0)
            return &s->methods[i];
    }
    return NULL;
}

/* Reads the whole message; a single uncompressed slice is used in place. */
static grpc_slice kn_bb_slice(grpc_byte_buffer *bb)
{
    if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1)
        return grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return grpc_empty_slice();
    grpc_slice sl = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return sl;
}

/* Bearer token from authorization; NULL if none. */
static const char *kn_bearer(kn_call *c)
{
    const grpc_slice *v = kn_md_find(c, "authorization");
    if (v == NULL)
        return NULL;
    size_t n = GRPC_SLICE_LENGTH(*v);
    const char *p = (const char *)GRPC_SLICE_START_PTR(*v);
    if (n < 8 || strncasecmp(p, "bearer ", 7) != 0)
        return NULL;
    p += 7;
    n -= 7;
    while (n > 0 && *p == ' ') {
        p++;
        n--;
    }
    if (n == 0 || memchr(p, '\0', n) != NULL)
        return NULL;
    return kn_arena_strndup(c->w->arena, p, n);
}

/* Sets c->peer_service when x-kn-caller-sig proves the caller. */
static void kn_check_caller(kn_call *c)
{
    kn_server *s = c->s;
    if (s->cfg.internal_secret_len == 0)
        return; /* no secret configured: nobody can prove anything */
    const char *caller = kn_call_metadata(c, "x-kn-caller");
    const char *sig = kn_call_metadata(c, "x-kn-caller-sig");
    if (caller == NULL || sig == NULL || *caller == '\0')
        return;
    char want[KN_CALLER_SIG_MAX];
    kn_caller_sig(s->cfg.internal_secret, s->cfg.internal_secret_len, caller, kn_call_token(c),
                  want);
    size_t n = strlen(want);
    if (strlen(sig) == n && sodium_memcmp(sig, want, n) == 0)
        c->peer_service = caller;
}

/* Runs everything between "request received" and "status known". Returns the
 * code; on KN_OK c->send_buf holds the response. */
static kn_code kn_serve(kn_call *c, int recv_ok)
{
    kn_server *s = c->s;
    kn_arena *a = c->w->arena;
    const kn_method *m = c->m;

    if (m == NULL) {
        return kn_call_error(c, KN_UNIMPLEMENTED, "unknown method %s",
                             kn_printable(a, &c->details.method, 200));
    }
    if (!(m->flags & KN_METHOD_WATCH) && m->fn == NULL) {
        return kn_call_error(c, KN_UNIMPLEMENTED, "%s/%s is not implemented yet", m->svc->name,
                             m->md->name);
    }
    if (!recv_ok || c->recv_buf == NULL) {
        if (!recv_ok)
            return kn_call_error(
                c, KN_CANCELLED,
                "request not received (cancelled by the client, or over the size limit)");
        return kn_call_error(c, KN_INVALID_ARGUMENT, "malformed request: no %s message",
                             m->md->input->name);
    }
    size_t len = grpc_byte_buffer_length(c->recv_buf);
    if (len > (size_t)s->cfg.max_message_bytes) {
        return kn_call_error(c, KN_RESOURCE_EXHAUSTED,
                             "request of %zu bytes exceeds the limit of %d bytes", len,
                             s->cfg.max_message_bytes);
    }
    c->token = NULL;
    if (!(m->flags & KN_METHOD_PUBLIC)) {
        const char *tok = kn_bearer(c);
        if (tok == NULL)
            return kn_call_error(c, KN_UNAUTHENTICATED, "missing bearer token");
        kn_status st;
        kn_status_clear(&st);
        if (kn_jwt_verify_any(tok, strlen(tok), s->cfg.jwt_secret, s->cfg.jwt_secret_len,
                              s->cfg.jwt_verify_secret, s->cfg.jwt_verify_secret_len,
                              (int64_t)time(NULL), &c->identity, &st) != KN_OK) {
            memset(&c->identity, 0, sizeof c->identity);
            return kn_call_error(c, KN_UNAUTHENTICATED, "%s",
                                 st.message[0] ? st.message : "invalid token");
        }
        c->token = tok;
        kn_check_caller(c);
    }
    if ((m->flags & KN_METHOD_INTERNAL) && c->peer_service == NULL)
        return kn_call_error(c, KN_PERMISSION_DENIED, "internal method");

    grpc_slice in = kn_bb_slice(c->recv_buf);
    ProtobufCMessage *req = protobuf_c_message_unpack(
        m->md->input, kn_arena_allocator(a), GRPC_SLICE_LENGTH(in), GRPC_SLICE_START_PTR(in));
    grpc_slice_unref(in);
    if (req == NULL) {
        return kn_call_error(c, KN_INVALID_ARGUMENT, "malformed request: cannot decode %s",
                             m->md->input->name);
    }
    if (kn_call_remaining_ms(c) <= 0)
        return kn_call_error(c, KN_DEADLINE_EXCEEDED, "deadline exceeded before the call ran");
    if (m->flags & KN_METHOD_WATCH) {
        const Grpc__Health__V1__HealthCheckRequest *hr = (const void *)req;
        c->w_known = 0;
        for (size_t i = 0; i < s->nhealth_names; i++)
            c->w_known |= strcmp(s->health_names[i], hr->service ? hr->service : "") == 0;
        return KN_OK;
    }

    ProtobufCMessage *resp = NULL;
    kn_status_clear(&c->st);
    if (s->cfg.test_slow_method != NULL && strcmp(s->cfg.test_slow_method, m->path) == 0)
        kn_sleep_ms(s->cfg.test_slow_ms);
    kn_metrics_grpc_in_flight(1);
    kn_code code = m->fn(c, req, &resp);
    kn_metrics_grpc_in_flight(-1);
    if (s->cfg.call_done != NULL)
        s->cfg.call_done(c->w->ctx, s->cfg.ud);
    if ((int)code < 0 || (int)code > KN_UNAUTHENTICATED) {
        kn_log_error("%s returned code %d", m->path, (int)code);
        return kn_call_error(c, KN_INTERNAL, "internal error");
    }
    if (code != KN_OK) {
        if (c->st.code != code || c->st.message[0] == '\0')
            kn_generic_message(code, c->st.message, sizeof c->st.message);
        c->st.code = code;
        return code;
    }
    if (resp == NULL || resp->descriptor != m->md->output) {
        kn_log_error("%s returned %s instead of a %s", m->path,
                     resp == NULL ? "no response" : resp->descriptor->name, m->md->output->name);
        return kn_call_error(c, KN_INTERNAL, "internal error");
    }
    size_t out = protobuf_c_message_get_packed_size(resp);
    grpc_slice sl = grpc_slice_malloc(out);
    protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(sl));
    c->send_buf = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    return KN_OK;
}

static void kn_set_status_details(kn_call *c, const char *msg)
{
    if (c->has_status_details)
        grpc_slice_unref(c->status_details);
    c->status_details = grpc_slice_from_copied_string(msg);
    c->has_status_details = 1;
}

static void kn_log_call(kn_call *c, kn_code code)
{
    const char *method =
        c->m != NULL ? c->m->path : kn_printable(c->w->arena, &c->details.method, 200);
    int64_t dur = kn_now_us() - c->start_us;
    kn_metrics_grpc_observe(c->m != NULL ? c->m->metrics_idx : KN_METRICS_OTHER, code, dur);
    kn_log_request(method, code, code == KN_OK ? NULL : c->st.message, dur, c->request_id,
                   c->identity.tenant_id, c->identity.user_id);
}

static void kn_watch_advance(kn_call *c);
static void kn_watch_unlink(kn_call *c);

static void kn_on_new(kn_call *c, int ok)
{
    kn_wk *w = c->w;
    w->posted--;
    if (!ok) {
        /* Server shutting down: the posted request is returned unused. */
        kn_slot_free(c);
        return;
    }
    c->start_us = kn_now_us();
    c->deadline = gpr_convert_clock_type(c->details.deadline, GPR_CLOCK_MONOTONIC);
    /* The initial metadata waits for the answer: sent now, it would leave
     * in a write (and wake the client) of its own. */
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_buf;
    grpc_call_error e = grpc_call_start_batch(c->gc, &op, 1, &c->t_recv, NULL);
    if (e != GRPC_CALL_OK) {
        kn_log_error("grpc_call_start_batch (receive) failed: %d", (int)e);
        kn_slot_free(c);
    }
}

static void kn_on_recv(kn_call *c, int ok)
{
    kn_wk *w = c->w;
    c->m = kn_find_method(c->s, &c->details.method);
    c->request_id = kn_request_id(c);
    kn_status_clear(&c->st);
    kn_code code = kn_serve(c, ok);

    if (code == KN_OK && c->m->flags & KN_METHOD_WATCH) {
        kn_log_call(c, code);
        /* The stream lives on: its close op tells when the client leaves. */
        grpc_op wops[2];
        memset(wops, 0, sizeof wops);
        wops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
        wops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        wops[1].data.recv_close_on_server.cancelled = &c->cancelled;
        if (grpc_call_start_batch(c->gc, wops, 2, &c->t_wclose, NULL) != GRPC_CALL_OK) {
            kn_log_error("grpc_call_start_batch (watch close) failed");
            kn_slot_free(c);
            kn_arena_reset(w->arena);
            return;
        }
        c->refs = 1;
        c->w_last = -1;
        c->w_next = w->watchers;
        if (w->watchers != NULL)
            w->watchers->w_prev = c;
        w->watchers = c;
        kn_arena_reset(w->arena);
        kn_watch_advance(c);
        return;
    }

    if (code != KN_OK && c->st.message[0] == '\0')
        kn_generic_message(code, c->st.message, sizeof c->st.message);
    kn_set_status_details(c, code == KN_OK ? "" : c->st.message);
    kn_log_call(c, code);

    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (code == KN_OK) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->send_buf;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)code;
    ops[n].data.send_status_from_server.status_details = &c->status_details;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    n++;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n].data.recv_close_on_server.cancelled = &c->cancelled;
    n++;
    grpc_call_error e = grpc_call_start_batch(c->gc, ops, n, &c->t_done, NULL);
    kn_arena_reset(w->arena);
    if (e != GRPC_CALL_OK) {
        kn_log_error("grpc_call_start_batch (status) failed: %d", (int)e);
        kn_slot_free(c);
    }
}

/* --- health -------------------------------------------------------------------- */

static kn_code kn_health_check(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp)
{
    const Grpc__Health__V1__HealthCheckRequest *r = (const void *)req;
    kn_server *s = call->s;
    const char *svc = r->service ? r->service : "";
    Grpc__Health__V1__HealthCheckResponse *out =
        kn_arena_msg(call->w->arena, &grpc__health__v1__health_check_response__descriptor);
    /* "liveness" (the Kubernetes liveness probe) only asks whether the
     * workers still serve calls: a database outage makes the service
     * unready, and it must recover without the kubelet restarting it. */
    if (strcmp(svc, KN_HEALTH_LIVENESS) == 0) {
        out->status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)KN_HEALTH_SERVING;
        *resp = &out->base;
        return KN_OK;
    }
    int known = 0;
    for (size_t i = 0; i < s->nhealth_names; i++)
        known |= strcmp(s->health_names[i], svc) == 0;
    if (!known)
        return kn_call_error(call, KN_NOT_FOUND, "unknown service %.100s", svc);
    out->status = atomic_load(&s->stopping) ? KN_HEALTH_NOT_SERVING : atomic_load(&s->health);
    *resp = &out->base;
    return KN_OK;
}

static void kn_watch_unlink(kn_call *c)
{
    kn_wk *w = c->w;
    if (c->w_prev != NULL)
        c->w_prev->w_next = c->w_next;
    else if (w->watchers == c)
        w->watchers = c->w_next;
    if (c->w_next != NULL)
        c->w_next->w_prev = c->w_prev;
    c->w_next = c->w_prev = NULL;
}

static void kn_watch_release(kn_call *c)
{
    if (--c->refs > 0)
        return;
    kn_watch_unlink(c);
    kn_slot_free(c);
}

/* Sends the next status change, or ends the stream once shutdown began. */
static void kn_watch_advance(kn_call *c)
{
    kn_server *s = c->s;
    if (c->w_closed || c->w_send_pending || c->w_status_sent)
        return;
    int stopping = atomic_load(&s->stopping);
    int target = KN_HEALTH_SERVICE_UNKNOWN;
    if (c->w_known)
        target = stopping ? KN_HEALTH_NOT_SERVING : atomic_load(&s->health);
    grpc_op op;
    memset(&op, 0, sizeof op);
    if (target != c->w_last) {
        Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
        r.status = target;
        size_t n = protobuf_c_message_get_packed_size(&r.base);
        grpc_slice sl = grpc_slice_malloc(n);
        protobuf_c_message_pack(&r.base, GRPC_SLICE_START_PTR(sl));
        if (c->send_buf != NULL)
            grpc_byte_buffer_destroy(c->send_buf);
        c->send_buf = grpc_raw_byte_buffer_create(&sl, 1);
        grpc_slice_unref(sl);
        op.op = GRPC_OP_SEND_MESSAGE;
        op.data.send_message.send_message = c->send_buf;
        if (grpc_call_start_batch(c->gc, &op, 1, &c->t_wsend, NULL) == GRPC_CALL_OK) {
            c->w_last = target;
            c->w_send_pending = 1;
            c->refs++;
        } else {
            grpc_call_cancel(c->gc, NULL);
        }
        return;
    }
    if (stopping) {
        kn_set_status_details(c, "server is shutting down");
        op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        op.data.send_status_from_server.status = GRPC_STATUS_UNAVAILABLE;
        op.data.send_status_from_server.status_details = &c->status_details;
        if (grpc_call_start_batch(c->gc, &op, 1, &c->t_wsend, NULL) == GRPC_CALL_OK) {
            c->w_status_sent = 1;
            c->w_send_pending = 1;
            c->refs++;
        } else {
            grpc_call_cancel(c->gc, NULL);
        }
    }
}

static void kn_watch_poll(kn_wk *w)
{
    int h = atomic_load(&w->s->health);
    int stopping = atomic_load(&w->s->stopping);
    if (h == w->seen_health && stopping == w->seen_stopping)
        return;
    w->seen_health = h;
    w->seen_stopping = stopping;
    for (kn_call *c = w->watchers; c != NULL;) {
        kn_call *next = c->w_next;
        kn_watch_advance(c);
        c = next;
    }
}

/* --- workers ------------------------------------------------------------------- */

static void kn_dispatch(kn_tag *t, int ok)
{
    kn_call *c = t->call;
    switch (t->kind) {
    case KN_TAG_NEW:
        kn_on_new(c, ok);
        break;
    case KN_TAG_RECV:
        kn_on_recv(c, ok);
        break;
    case KN_TAG_DONE:
        kn_slot_free(c);
        break;
    case KN_TAG_WSEND:
        c->w_send_pending = 0;
        if (!ok)
            c->w_closed = 1; /* the stream is gone; wait for the close op */
        kn_watch_advance(c);
        kn_watch_release(c);
        break;
    case KN_TAG_WCLOSE:
        c->w_closed = 1;
        kn_watch_release(c);
        break;
    }
}

static void *kn_worker_main(void *arg)
{
    kn_wk *w = arg;
    kn_server *s = w->s;
    w->arena = kn_arena_new((size_t)64 * 1024);
    unsigned char rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(w->rid_prefix, sizeof w->rid_prefix, rnd, sizeof rnd);
    if (s->cfg.worker_init != NULL)
        w->ctx = s->cfg.worker_init(w->index, s->cfg.ud);
    w->seen_health = atomic_load(&s->health);
    for (;;) {
        grpc_event ev;
        if (w->posted == 0 && !atomic_load(&s->stopping)) {
            /* Pull work only when idle: the core hands a connection's calls
             * to the queue it was accepted on while that queue has a request
             * posted, so a worker that kept requests posted while busy would
             * serve a whole client connection alone, its calls queued
             * behind each other while the other workers sleep. With one
             * request posted, and only when nothing is ready, a call goes
             * to an idle worker, or waits in the core's one queue for the
             * first worker to become idle. */
            ev = grpc_completion_queue_next(w->cq, gpr_inf_past(GPR_CLOCK_MONOTONIC), NULL);
            if (ev.type == GRPC_QUEUE_TIMEOUT) {
                kn_post_slot(w);
                if (w->posted > 0)
                    continue;
                /* Not posted (logged): wait a poll period, not spin. */
                ev = grpc_completion_queue_next(w->cq, kn_deadline_ms(KN_POLL_MS), NULL);
            }
        } else {
            ev = grpc_completion_queue_next(w->cq, kn_deadline_ms(KN_POLL_MS), NULL);
        }
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            kn_dispatch(ev.tag, ev.success);
        kn_watch_poll(w);
        if (atomic_load(&s->server_down) && w->nslots == 0 && !w->cq_shut) {
            grpc_completion_queue_shutdown(w->cq);
            w->cq_shut = 1;
        }
    }
    if (s->cfg.worker_destroy != NULL)
        s->cfg.worker_destroy(w->ctx, s->cfg.ud);
    w->ctx = NULL;
    kn_arena_free(w->arena);
    w->arena = NULL;
    return NULL;
}

static void kn_set_health(kn_server *s, int h)
{
    int old = atomic_exchange(&s->health, h);
    if (old != h)
        kn_log_info("health %s", h == KN_HEALTH_SERVING ? "SERVING" : "NOT_SERVING");
}

static void *kn_ready_main(void *arg)
{
    kn_server *s = arg;
    pthread_mutex_lock(&s->ready_mu);
    while (!s->ready_stop) {
        pthread_mutex_unlock(&s->ready_mu);
        int ok = s->cfg.ready_check == NULL ? 1 : s->cfg.ready_check(s->cfg.ud);
        if (!atomic_load(&s->stopping))
            kn_set_health(s, ok ? KN_HEALTH_SERVING : KN_HEALTH_NOT_SERVING);
        pthread_mutex_lock(&s->ready_mu);
        if (s->ready_stop)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long ms = s->cfg.ready_interval_ms;
        until.tv_sec += ms / 1000;
        until.tv_nsec += (ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!s->ready_stop &&
               pthread_cond_timedwait(&s->ready_cv, &s->ready_mu, &until) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&s->ready_mu);
    return NULL;
}

static void kn_drain_destroy_cq(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

int kn_server_start(kn_server *s)
{
    if (s->started)
        return -1;
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = s->cfg.max_message_bytes;
    /* gRPC sets SO_REUSEPORT by default: a second process would then share
     * the port silently instead of failing to start. */
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = GRPC_ARG_ALLOW_REUSEPORT;
    args[1].value.integer = 0;
    grpc_channel_args chargs = {2, args};

    s->server = grpc_server_create(&chargs, NULL);
    s->nworkers = s->cfg.workers;
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (s->workers == NULL)
        abort();
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);

    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(s->server, s->listen, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0) {
        kn_log_error("cannot listen on %s", s->listen);
        grpc_server_destroy(s->server);
        s->server = NULL;
        for (int i = 0; i < s->nworkers; i++)
            kn_drain_destroy_cq(s->workers[i].cq);
        kn_drain_destroy_cq(s->shutdown_cq);
        s->shutdown_cq = NULL;
        free(s->workers);
        s->workers = NULL;
        return -1;
    }
    s->port = port;
    grpc_server_start(s->server);
    s->started = 1;
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i].tid, NULL, kn_worker_main, &s->workers[i]) != 0) {
            kn_log_error("cannot start worker thread %d", i);
            abort();
        }
        s->workers[i].started = 1;
    }
    if (pthread_create(&s->ready_tid, NULL, kn_ready_main, s) != 0) {
        kn_log_error("cannot start the readiness thread");
        abort();
    }
    s->ready_started = 1;
    kn_log_info("listening on %s (port %d, %d workers)", s->listen, port, s->nworkers);
    return port;
}

void kn_server_request_stop(kn_server *s)
{
    atomic_store(&s->stop_requested, 1);
}

static void kn_server_shutdown(kn_server *s, int grace_ms)
{
    if (!s->started || s->finished)
        return;
    s->finished = 1;
    atomic_store(&s->stopping, 1);
    kn_set_health(s, KN_HEALTH_NOT_SERVING);
    pthread_mutex_lock(&s->ready_mu);
    s->ready_stop = 1;
    pthread_cond_broadcast(&s->ready_cv);
    pthread_mutex_unlock(&s->ready_mu);

    /* Calls that arrived but wait for an idle worker would be cancelled by
     * the shutdown; requests posted now take them, so they are served in
     * the drain like the running ones. */
    for (int i = 0; i < s->nworkers; i++)
        for (int j = 0; s->workers[i].started && j < KN_DRAIN_REQUESTS; j++)
            kn_post_request(&s->workers[i]);

    static int shutdown_tag;
    grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, &shutdown_tag);
    grpc_event ev = grpc_completion_queue_next(s->shutdown_cq, kn_deadline_ms(grace_ms), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        kn_log_warn("calls still running after %d ms: cancelling them", grace_ms);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    atomic_store(&s->server_down, 1);
    for (int i = 0; i < s->nworkers; i++) {
        if (s->workers[i].started)
            pthread_join(s->workers[i].tid, NULL);
        s->workers[i].started = 0;
    }
    if (s->ready_started)
        pthread_join(s->ready_tid, NULL);
    s->ready_started = 0;
    grpc_server_destroy(s->server);
    s->server = NULL;
    for (int i = 0; i < s->nworkers; i++)
        grpc_completion_queue_destroy(s->workers[i].cq);
    kn_drain_destroy_cq(s->shutdown_cq);
    s->shutdown_cq = NULL;
    kn_log_info("server stopped");
}

int kn_server_wait(kn_server *s)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Short waits so that kn_server_request_stop is seen without a signal. */
    struct timespec ts = {0, 100 * 1000000L};
    while (!atomic_load(&s->stop_requested)) {
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            kn_log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    kn_server_shutdown(s, s->cfg.grace_ms);
    return 0;
}

void kn_server_free(kn_server *s)
{
    if (s == NULL)
        return;
    kn_server_shutdown(s, 0);
    for (size_t i = 0; i < s->nmethods; i++)
        free(s->methods[i].path);
    free(s->methods);
    for (size_t i = 0; i < s->nhealth_names; i++)
        free(s->health_names[i]);
    free(s->health_names);
    free(s->workers);
    pthread_mutex_destroy(&s->ready_mu);
    pthread_cond_destroy(&s->ready_cv);
    free(s->service);
    free(s->listen);
    sodium_memzero(s->jwt_secret, s->cfg.jwt_secret_len);
    sodium_memzero(s->internal_secret, s->cfg.internal_secret_len);
    sodium_memzero(s->jwt_verify_secret, s->cfg.jwt_verify_secret_len);
    free(s->jwt_verify_secret);
    free(s->jwt_secret);
    free(s->internal_secret);
    free(s);
}
