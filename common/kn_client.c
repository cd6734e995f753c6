/* kn_client: unary calls on the gRPC core. A call is one batch of six ops.
 * Blocking calls pluck it from the calling thread's own queue;
 * asynchronous calls complete on the library's completion-queue threads
 * (grpc_completion_queue_next), which also run their retry backoffs. The
 * channel (and its round-robin policy over the target's addresses) is
 * shared. */
#include "kn_client.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
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

#define KN_DEFAULT_TIMEOUT_MS 5000
#define KN_DEFAULT_ATTEMPTS   4
#define KN_BACKOFF_BASE_MS    20
#define KN_DOWNSTREAM_MAX_MS  5000

struct kn_channel {
    grpc_channel *ch;
    int max_message_bytes;
};

/* --- the calling thread's completion queue ------------------------------ */

static pthread_once_t kn_cq_once = PTHREAD_ONCE_INIT;
static pthread_key_t kn_cq_key;
static _Thread_local grpc_completion_queue *kn_tl_cq;

static void kn_cq_destroy(void *p)
{
    grpc_completion_queue *cq = p;
    /* Every call plucked its event before returning: the queue is empty. */
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
}

static void kn_cq_key_init(void)
{
    if (pthread_key_create(&kn_cq_key, kn_cq_destroy) != 0)
        abort();
}

static grpc_completion_queue *kn_thread_cq(void)
{
    if (kn_tl_cq == NULL) {
        pthread_once(&kn_cq_once, kn_cq_key_init);
        kn_tl_cq = grpc_completion_queue_create_for_pluck(NULL);
        /* The key's destructor frees the queue when the thread exits. */
        pthread_setspecific(kn_cq_key, kn_tl_cq);
    }
    return kn_tl_cq;
}

void kn_client_thread_cleanup(void)
{
    if (kn_tl_cq == NULL)
        return;
    pthread_setspecific(kn_cq_key, NULL);
    kn_cq_destroy(kn_tl_cq);
    kn_tl_cq = NULL;
}

/* --- channels ------------------------------------------------------------ */

kn_channel *kn_channel_new(const char *target, int max_message_bytes)
{
    if (target == NULL || *target == '\0')
        return NULL;
    if (max_message_bytes <= 0)
        max_message_bytes = 4 * 1024 * 1024;
    kn_channel *c = calloc(1, sizeof *c);
    if (c == NULL)
        abort();
    c->max_message_bytes = max_message_bytes;

    grpc_arg args[7];
    memset(args, 0, sizeof args);
    int n = 0;
    args[n].type = GRPC_ARG_STRING;
    args[n].key = GRPC_ARG_SERVICE_CONFIG;
    args[n].value.string = "{\"loadBalancingConfig\":[{\"round_robin\":{}}]}";
    n++;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[n].value.integer = max_message_bytes;
    n++;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[n].value.integer = max_message_bytes;
    n++;
    /* We retry ourselves, only what is idempotent. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_ENABLE_RETRIES;
    args[n].value.integer = 0;
    n++;
    /* A restarted replica is back in the rotation within a second, not
     * after the core's default backoff of up to two minutes. The minimum
     * backoff is left alone: the core also uses it as the connect timeout,
     * and 100 ms fails handshakes on a loaded machine. */
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS;
    args[n].value.integer = 100;
    n++;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS;
    args[n].value.integer = 1000;
    n++;
    grpc_channel_args chargs = {(size_t)n, args};

    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->ch = grpc_channel_create(target, creds, &chargs);
    grpc_channel_credentials_release(creds);
    if (c->ch == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

void kn_channel_free(kn_channel *ch)
{
    if (ch == NULL)
        return;
    grpc_channel_destroy(ch->ch);
    free(ch);
}

/* --- one attempt ----------------------------------------------------------- */

static void kn_md_add(grpc_metadata *md, size_t *n, const char *key, const char *value)
{
    md[*n].key = grpc_slice_from_static_string(key);
    md[*n].value = grpc_slice_from_copied_string(value);
    (*n)++;
}

#define KN_MD_MAX 4

/* The request metadata of opts: token, request id and the caller's
 * signature, values copied (the caller unrefs them). */
static size_t kn_call_md(const kn_call_opts *o, grpc_metadata md[KN_MD_MAX])
{
    size_t nmd = 0;
    char sig[KN_CALLER_SIG_MAX];
    if (o->authorization != NULL && *o->authorization != '\0')
        kn_md_add(md, &nmd, "authorization", o->authorization);
    if (o->request_id != NULL && *o->request_id != '\0')
        kn_md_add(md, &nmd, "x-request-id", o->request_id);
    if (o->caller_service != NULL && *o->caller_service != '\0' && o->internal_secret != NULL) {
        const char *tok = "";
        if (o->authorization != NULL && strncasecmp(o->authorization, "bearer ", 7) == 0) {
            tok = o->authorization + 7;
            while (*tok == ' ')
                tok++;
        }
        kn_caller_sig(o->internal_secret, o->internal_secret_len, o->caller_service, tok, sig);
        kn_md_add(md, &nmd, "x-kn-caller", o->caller_service);
        kn_md_add(md, &nmd, "x-kn-caller-sig", sig);
    }
    return nmd;
}

static kn_code kn_status_code(grpc_status_code s)
{
    if ((int)s < 0 || (int)s > KN_UNAUTHENTICATED)
        return KN_UNKNOWN;
    return (kn_code)s;
}

/* One attempt in flight on the calling thread's queue, its tag the struct
 * itself: several can be in flight at once (kn_channel_call_all). */
typedef struct {
    grpc_call *call;
    const char *path;
    grpc_metadata md[KN_MD_MAX];
    size_t nmd;
    grpc_byte_buffer *send;
    grpc_byte_buffer *recv;
    grpc_metadata_array init_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
} kn_pending;

static void kn_pending_destroy(kn_pending *p)
{
    for (size_t i = 0; i < p->nmd; i++)
        grpc_slice_unref(p->md[i].value);
    grpc_byte_buffer_destroy(p->send);
    if (p->recv != NULL)
        grpc_byte_buffer_destroy(p->recv);
    grpc_metadata_array_destroy(&p->init_md);
    grpc_metadata_array_destroy(&p->trailing_md);
    grpc_slice_unref(p->details);
    grpc_call_unref(p->call);
}

/* KN_OK: the batch is in flight and kn_attempt_finish must follow;
 * otherwise nothing is left to clean up. */
static kn_code kn_attempt_start(kn_channel *ch, const char *path, grpc_slice req,
                                gpr_timespec deadline, const kn_call_opts *o, kn_pending *p,
                                kn_status *st)
{
    grpc_completion_queue *cq = kn_thread_cq();
    memset(p, 0, sizeof *p);
    p->path = path;
    grpc_slice method = grpc_slice_from_copied_string(path);
    p->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                       deadline, NULL);
    grpc_slice_unref(method);
    if (p->call == NULL)
        return kn_status_set(st, KN_INTERNAL, "cannot create a call to %s", path);

    p->nmd = kn_call_md(o, p->md);
    p->send = grpc_raw_byte_buffer_create(&req, 1);
    grpc_metadata_array_init(&p->init_md);
    grpc_metadata_array_init(&p->trailing_md);
    p->status = GRPC_STATUS_UNKNOWN;
    p->details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = p->nmd;
    ops[0].data.send_initial_metadata.metadata = p->nmd > 0 ? p->md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = p->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &p->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &p->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &p->trailing_md;
    ops[5].data.recv_status_on_client.status = &p->status;
    ops[5].data.recv_status_on_client.status_details = &p->details;

    grpc_call_error e = grpc_call_start_batch(p->call, ops, 6, p, NULL);
    if (e != GRPC_CALL_OK) {
        kn_pending_destroy(p);
        /* e.g. a header value with characters HTTP/2 forbids */
        return kn_status_set(st, KN_INTERNAL, "cannot start a call to %s (error %d)", path, (int)e);
    }
    return KN_OK;
}

/* Waits for the attempt; on KN_OK *resp holds the response bytes (the
 * caller unrefs). */
static kn_code kn_attempt_finish(kn_pending *p, grpc_slice *resp, kn_status *st)
{
    kn_code code;
    grpc_event ev =
        grpc_completion_queue_pluck(kn_thread_cq(), p, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        code = kn_status_set(st, KN_INTERNAL, "call to %s did not complete", p->path);
        goto done;
    }
    code = kn_status_code(p->status);
    if (code != KN_OK) {
        size_t n = GRPC_SLICE_LENGTH(p->details);
        if (n >= sizeof st->message)
            n = sizeof st->message - 1;
        st->code = code;
        memcpy(st->message, GRPC_SLICE_START_PTR(p->details), n);
        st->message[n] = '\0';
        goto done;
    }
    if (p->recv == NULL) {
        code = kn_status_set(st, KN_INTERNAL, "%s answered OK without a message", p->path);
        goto done;
    }
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, p->recv)) {
        code = kn_status_set(st, KN_INTERNAL, "cannot read the response of %s", p->path);
        goto done;
    }
    *resp = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    kn_status_clear(st);

done:
    kn_pending_destroy(p);
    return code;
}

/* On KN_OK *resp holds the response bytes (the caller unrefs). */
static kn_code kn_attempt(kn_channel *ch, const char *path, grpc_slice req, gpr_timespec deadline,
                          const kn_call_opts *o, grpc_slice *resp, kn_status *st)
{
    kn_pending p;
    kn_code code = kn_attempt_start(ch, path, req, deadline, o, &p, st);
    if (code != KN_OK)
        return code;
    return kn_attempt_finish(&p, resp, st);
}

static int64_t kn_ms_until(gpr_timespec deadline)
{
    return gpr_time_to_millis(gpr_time_sub(deadline, gpr_now(GPR_CLOCK_MONOTONIC)));
}

static int kn_attempts(const kn_call_opts *o)
{
    return o->idempotent ? (o->max_attempts > 0 ? o->max_attempts : KN_DEFAULT_ATTEMPTS) : 1;
}

static gpr_timespec kn_deadline(const kn_call_opts *o)
{
    int timeout = o->timeout_ms > 0 ? o->timeout_ms : KN_DEFAULT_TIMEOUT_MS;
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(timeout, GPR_TIMESPAN));
}

/* The wait after failed attempt i (1-based): exponential with jitter. */
static int64_t kn_backoff_ms(int i)
{
    int64_t base = (int64_t)KN_BACKOFF_BASE_MS << (i - 1 < 10 ? i - 1 : 10);
    return base / 2 + (int64_t)randombytes_uniform((uint32_t)base + 1);
}

/* After `done` attempts that ended in code: retries UNAVAILABLE of
 * idempotent calls with exponential backoff and jitter, never past the
 * deadline. */
static kn_code kn_retry(kn_channel *ch, const char *path, grpc_slice req, const kn_call_opts *o,
                        gpr_timespec deadline, int done, kn_code code, grpc_slice *resp,
                        kn_status *st)
{
    int attempts = kn_attempts(o);
    for (int i = done; code == KN_UNAVAILABLE && i < attempts; i++) {
        int64_t sleep_ms = kn_backoff_ms(i);
        if (kn_ms_until(deadline) <= sleep_ms)
            break;
        struct timespec ts = {(time_t)(sleep_ms / 1000), (long)(sleep_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0) {
        }
        code = kn_attempt(ch, path, req, deadline, o, resp, st);
    }
    return code;
}

static const kn_call_opts kn_no_opts;

static kn_code kn_invoke(kn_channel *ch, const char *path, grpc_slice req, const kn_call_opts *o,
                         grpc_slice *resp, kn_status *st)
{
    if (o == NULL)
        o = &kn_no_opts;
    kn_status_clear(st);
    if (ch == NULL)
        return kn_status_set(st, KN_UNAVAILABLE, "no channel for %s", path);
    gpr_timespec deadline = kn_deadline(o);
    kn_code code = kn_attempt(ch, path, req, deadline, o, resp, st);
    return kn_retry(ch, path, req, o, deadline, 1, code, resp, st);
}

static grpc_slice kn_encode(const ProtobufCMessage *req)
{
    size_t n = protobuf_c_message_get_packed_size(req);
    grpc_slice in = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(in));
    return in;
}

static kn_code kn_decode(const ProtobufCMessageDescriptor *resp_desc, kn_arena *arena,
                         grpc_slice out, const char *path, ProtobufCMessage **resp, kn_status *st)
{
    *resp = protobuf_c_message_unpack(resp_desc, kn_arena_allocator(arena), GRPC_SLICE_LENGTH(out),
                                      GRPC_SLICE_START_PTR(out));
    if (*resp == NULL)
        return kn_status_set(st, KN_INTERNAL, "cannot decode the %s answered by %s",
                             resp_desc->name, path);
    return KN_OK;
}

void kn_channel_call_all(kn_call_spec *calls, size_t n, kn_arena *arena)
{
    kn_pending p[KN_CALL_ALL_MAX];
    grpc_slice in[KN_CALL_ALL_MAX], out[KN_CALL_ALL_MAX];
    gpr_timespec deadline[KN_CALL_ALL_MAX];
    int started[KN_CALL_ALL_MAX];
    if (n > KN_CALL_ALL_MAX) {
        for (size_t i = KN_CALL_ALL_MAX; i < n; i++) {
            calls[i].resp = NULL;
            calls[i].code =
                kn_status_set(&calls[i].st, KN_INTERNAL, "kn_channel_call_all: more than %d calls",
                              KN_CALL_ALL_MAX);
        }
        n = KN_CALL_ALL_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        kn_call_spec *c = &calls[i];
        c->resp = NULL;
        kn_status_clear(&c->st);
        in[i] = kn_encode(c->req);
        out[i] = grpc_empty_slice();
        deadline[i] = kn_deadline(&c->opts);
        started[i] = 0;
        if (c->ch == NULL) {
            c->code = kn_status_set(&c->st, KN_UNAVAILABLE, "no channel for %s", c->method_path);
            continue;
        }
        c->code =
            kn_attempt_start(c->ch, c->method_path, in[i], deadline[i], &c->opts, &p[i], &c->st);
        started[i] = c->code == KN_OK;
    }
    /* Each pluck takes its own tag; the others' completions wait in the
     * queue for theirs. */
    for (size_t i = 0; i < n; i++) {
        kn_call_spec *c = &calls[i];
        if (started[i])
            c->code = kn_attempt_finish(&p[i], &out[i], &c->st);
        if (c->ch != NULL)
            c->code = kn_retry(c->ch, c->method_path, in[i], &c->opts, deadline[i], 1, c->code,
                               &out[i], &c->st);
        if (c->code == KN_OK)
            c->code = kn_decode(c->resp_desc, arena, out[i], c->method_path, &c->resp, &c->st);
        grpc_slice_unref(in[i]);
        grpc_slice_unref(out[i]);
    }
}

kn_code kn_channel_call_raw(kn_channel *ch, const char *method_path, const void *req,
                            size_t req_len, void **resp, size_t *resp_len, kn_arena *arena,
                            const kn_call_opts *opts, kn_status *st)
{
    grpc_slice in = grpc_slice_from_copied_buffer(req_len > 0 ? req : "", req_len);
    grpc_slice out = grpc_empty_slice();
    *resp = NULL;
    *resp_len = 0;
    kn_code code = kn_invoke(ch, method_path, in, opts, &out, st);
    grpc_slice_unref(in);
    if (code == KN_OK) {
        *resp_len = GRPC_SLICE_LENGTH(out);
        *resp = kn_arena_alloc(arena, *resp_len + 1);
        memcpy(*resp, GRPC_SLICE_START_PTR(out), *resp_len);
    }
    grpc_slice_unref(out);
    return code;
}

kn_code kn_channel_call(kn_channel *ch, const char *method_path, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                        kn_arena *arena, const kn_call_opts *opts, kn_status *st)
{
    *resp = NULL;
    grpc_slice in = kn_encode(req);
    grpc_slice out = grpc_empty_slice();
    kn_code code = kn_invoke(ch, method_path, in, opts, &out, st);
    grpc_slice_unref(in);
    if (code == KN_OK)
        code = kn_decode(resp_desc, arena, out, method_path, resp, st);
    grpc_slice_unref(out);
    return code;
}

kn_code kn_call_downstream_opts(kn_call *parent, const char *method_path, int idempotent,
                                kn_call_opts *o, kn_status *st)
{
    kn_arena *a = kn_call_arena(parent);
    int64_t left = kn_call_remaining_ms(parent);
    memset(o, 0, sizeof *o);
    if (left <= 0)
        return kn_status_set(st, KN_DEADLINE_EXCEEDED, "deadline exceeded before calling %s",
                             method_path);
    o->timeout_ms = (int)(left < KN_DOWNSTREAM_MAX_MS ? left : KN_DOWNSTREAM_MAX_MS);
    o->idempotent = idempotent;
    const char *tok = kn_call_token(parent);
    if (*tok != '\0')
        o->authorization = kn_arena_sprintf(a, "Bearer %s", tok);
    o->request_id = kn_call_request_id(parent);
    const unsigned char *secret;
    size_t secret_len;
    kn_call_internal_secret(parent, &secret, &secret_len);
    if (secret_len > 0) {
        o->caller_service = kn_call_service_name(parent);
        o->internal_secret = secret;
        o->internal_secret_len = secret_len;
    }
    return KN_OK;
}

kn_code kn_call_downstream(kn_call *parent, kn_channel *ch, const char *method_path,
                           const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, int idempotent, kn_status *st)
{
    kn_call_opts o;
    *resp = NULL;
    if (kn_call_downstream_opts(parent, method_path, idempotent, &o, st) != KN_OK)
        return st->code;
    return kn_channel_call(ch, method_path, req, resp_desc, resp, kn_call_arena(parent), &o, st);
}

int kn_channel_health(kn_channel *ch, const char *service, int timeout_ms)
{
    Grpc__Health__V1__HealthCheckRequest req = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = (char *)(service != NULL ? service : "");
    kn_call_opts o;
    memset(&o, 0, sizeof o);
    o.timeout_ms = timeout_ms;
    kn_arena *a = kn_arena_new(1024);
    ProtobufCMessage *resp = NULL;
    kn_status st;
    int ok = 0;
    if (kn_channel_call(ch, "/grpc.health.v1.Health/Check", &req.base,
                        &grpc__health__v1__health_check_response__descriptor, &resp, a, &o,
                        &st) == KN_OK) {
        const Grpc__Health__V1__HealthCheckResponse *r = (const void *)resp;
        ok = r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    }
    kn_arena_free(a);
    return ok;
}

/* --- asynchronous calls ------------------------------------------------------ */

#define KN_ASYNC_MAX_THREADS 8

typedef struct kn_cq_thread kn_cq_thread;

/* One asynchronous call, from start to done; malloc'd, since the caller's
 * arena may be gone once done has run. */
typedef struct kn_async {
    kn_cq_thread *t;
    kn_channel *ch;
    grpc_slice method;
    grpc_slice req;
    grpc_metadata md[KN_MD_MAX];
    size_t nmd;
    gpr_timespec deadline;
    int attempt, attempts;
    const ProtobufCMessageDescriptor *resp_desc;
    kn_arena *arena;
    kn_call_done done;
    void *ud;
    /* the attempt in flight */
    grpc_call *call;
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array init_md, trailing_md;
    grpc_status_code status;
    grpc_slice details;
    /* the outcome so far */
    kn_code code;
    kn_status st;
    ProtobufCMessage *resp;
    gpr_timespec retry_at;
    struct kn_async *next;
} kn_async;

struct kn_cq_thread {
    grpc_completion_queue *cq;
    pthread_t thread;
    kn_async *retries; /* waiting out a backoff, by retry_at; this thread's only */
};

/* Readers start attempts (which must not reach a queue that is shut down);
 * the writer starts and stops the threads. */
static pthread_rwlock_t kn_async_lock = PTHREAD_RWLOCK_INITIALIZER;
static int kn_async_started;
static atomic_int kn_async_stopping;
static int kn_async_nthreads;
static atomic_int kn_async_want = 1;
static atomic_uint kn_async_rr;
static kn_cq_thread kn_async_threads[KN_ASYNC_MAX_THREADS];

void kn_client_set_async_threads(int n)
{
    atomic_store(&kn_async_want, n < 1 ? 1 : n > KN_ASYNC_MAX_THREADS ? KN_ASYNC_MAX_THREADS : n);
}

static void kn_async_free(kn_async *a)
{
    for (size_t i = 0; i < a->nmd; i++)
        grpc_slice_unref(a->md[i].value);
    grpc_slice_unref(a->method);
    grpc_slice_unref(a->req);
    free(a);
}

/* Runs done with the outcome and frees the call. */
static void kn_async_finish(kn_async *a)
{
    kn_call_done done = a->done;
    void *ud = a->ud;
    kn_code code = a->code;
    kn_status st = a->st;
    ProtobufCMessage *resp = code == KN_OK ? a->resp : NULL;
    kn_async_free(a);
    done(ud, code, &st, resp);
}

static void kn_async_attempt_cleanup(kn_async *a)
{
    if (a->send != NULL)
        grpc_byte_buffer_destroy(a->send);
    if (a->recv != NULL)
        grpc_byte_buffer_destroy(a->recv);
    a->send = a->recv = NULL;
    grpc_metadata_array_destroy(&a->init_md);
    grpc_metadata_array_destroy(&a->trailing_md);
    grpc_slice_unref(a->details);
    a->details = grpc_empty_slice();
    if (a->call != NULL)
        grpc_call_unref(a->call);
    a->call = NULL;
}

/* Starts one attempt on a->t's queue; with kn_async_lock read-held and
 * the client not stopping. KN_OK, or the error in a->code / a->st. */
static kn_code kn_async_attempt(kn_async *a)
{
    a->attempt++;
    a->call = grpc_channel_create_call(a->ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, a->t->cq,
                                       a->method, NULL, a->deadline, NULL);
    if (a->call == NULL)
        return a->code = kn_status_set(&a->st, KN_INTERNAL, "cannot create a call");
    a->send = grpc_raw_byte_buffer_create(&a->req, 1);
    a->recv = NULL;
    grpc_metadata_array_init(&a->init_md);
    grpc_metadata_array_init(&a->trailing_md);
    a->status = GRPC_STATUS_UNKNOWN;
    a->details = grpc_empty_slice();

    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = a->nmd;
    ops[0].data.send_initial_metadata.metadata = a->nmd > 0 ? a->md : NULL;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = a->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &a->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &a->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &a->trailing_md;
    ops[5].data.recv_status_on_client.status = &a->status;
    ops[5].data.recv_status_on_client.status_details = &a->details;
    grpc_call_error e = grpc_call_start_batch(a->call, ops, 6, a, NULL);
    if (e != GRPC_CALL_OK) {
        /* e.g. a header value with characters HTTP/2 forbids */
        kn_async_attempt_cleanup(a);
        return a->code =
                   kn_status_set(&a->st, KN_INTERNAL, "cannot start a call (error %d)", (int)e);
    }
    return KN_OK;
}

/* Reads the outcome of the attempt that just completed into a->code,
 * a->st and a->resp. */
static void kn_async_outcome(kn_async *a)
{
    kn_code code = kn_status_code(a->status);
    a->resp = NULL;
    if (code != KN_OK) {
        size_t n = GRPC_SLICE_LENGTH(a->details);
        if (n >= sizeof a->st.message)
            n = sizeof a->st.message - 1;
        a->st.code = code;
        memcpy(a->st.message, GRPC_SLICE_START_PTR(a->details), n);
        a->st.message[n] = '\0';
        a->code = code;
        return;
    }
    grpc_byte_buffer_reader r;
    if (a->recv == NULL) {
        a->code = kn_status_set(&a->st, KN_INTERNAL, "answered OK without a message");
        return;
    }
    if (!grpc_byte_buffer_reader_init(&r, a->recv)) {
        a->code = kn_status_set(&a->st, KN_INTERNAL, "cannot read the response");
        return;
    }
    grpc_slice out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    a->resp = protobuf_c_message_unpack(a->resp_desc, kn_arena_allocator(a->arena),
                                        GRPC_SLICE_LENGTH(out), GRPC_SLICE_START_PTR(out));
    grpc_slice_unref(out);
    if (a->resp == NULL) {
        a->code =
            kn_status_set(&a->st, KN_INTERNAL, "cannot decode the %s answered", a->resp_desc->name);
        return;
    }
    kn_status_clear(&a->st);
    a->code = KN_OK;
}

static void kn_async_schedule_retry(kn_cq_thread *t, kn_async *a, int64_t wait_ms)
{
    a->retry_at =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_millis(wait_ms, GPR_TIMESPAN));
    kn_async **p = &t->retries;
    while (*p != NULL && gpr_time_cmp((*p)->retry_at, a->retry_at) <= 0)
        p = &(*p)->next;
    a->next = *p;
    *p = a;
}

static void kn_async_completed(kn_cq_thread *t, kn_async *a)
{
    kn_async_outcome(a);
    kn_async_attempt_cleanup(a);
    if (a->code == KN_UNAVAILABLE && a->attempt < a->attempts && !atomic_load(&kn_async_stopping)) {
        int64_t wait_ms = kn_backoff_ms(a->attempt);
        if (kn_ms_until(a->deadline) > wait_ms) {
            kn_async_schedule_retry(t, a, wait_ms);
            return;
        }
    }
    kn_async_finish(a);
}

/* Starts the retries whose backoff is over (all of them, failing, once the
 * client is stopping). */
static void kn_async_run_retries(kn_cq_thread *t)
{
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    while (t->retries != NULL) {
        kn_async *a = t->retries;
        int stopping = atomic_load(&kn_async_stopping);
        if (!stopping && gpr_time_cmp(a->retry_at, now) > 0)
            break;
        t->retries = a->next;
        a->next = NULL;
        kn_code code = a->code;
        pthread_rwlock_rdlock(&kn_async_lock);
        if (!atomic_load(&kn_async_stopping))
            code = kn_async_attempt(a);
        pthread_rwlock_unlock(&kn_async_lock);
        if (code != KN_OK)
            kn_async_finish(a);
    }
}

static void *kn_async_main(void *arg)
{
    kn_cq_thread *t = arg;
    prctl(PR_SET_NAME, "kn-client-cq", 0, 0, 0);
    /* The process's sigwait gets SIGINT/SIGTERM, whichever thread started
     * this one. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (;;) {
        gpr_timespec until =
            t->retries != NULL ? t->retries->retry_at : gpr_inf_future(GPR_CLOCK_MONOTONIC);
        grpc_event ev = grpc_completion_queue_next(t->cq, until, NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE)
            kn_async_completed(t, ev.tag);
        if (t->retries != NULL)
            kn_async_run_retries(t);
    }
    /* The queue is drained; nothing can be started any more. */
    while (t->retries != NULL) {
        kn_async *a = t->retries;
        t->retries = a->next;
        kn_async_finish(a);
    }
    return NULL;
}

static void kn_async_start_threads(void)
{
    pthread_rwlock_wrlock(&kn_async_lock);
    if (!kn_async_started && !atomic_load(&kn_async_stopping)) {
        int n = atomic_load(&kn_async_want);
        for (int i = 0; i < n; i++) {
            kn_cq_thread *t = &kn_async_threads[i];
            t->cq = grpc_completion_queue_create_for_next(NULL);
            t->retries = NULL;
            if (pthread_create(&t->thread, NULL, kn_async_main, t) != 0)
                abort();
        }
        kn_async_nthreads = n;
        kn_async_started = 1;
    }
    pthread_rwlock_unlock(&kn_async_lock);
}

void kn_client_shutdown(void)
{
    pthread_rwlock_wrlock(&kn_async_lock);
    if (!kn_async_started || atomic_load(&kn_async_stopping)) {
        pthread_rwlock_unlock(&kn_async_lock);
        return;
    }
    atomic_store(&kn_async_stopping, 1);
    int n = kn_async_nthreads;
    for (int i = 0; i < n; i++)
        grpc_completion_queue_shutdown(kn_async_threads[i].cq);
    pthread_rwlock_unlock(&kn_async_lock);
    for (int i = 0; i < n; i++)
        pthread_join(kn_async_threads[i].thread, NULL);
    pthread_rwlock_wrlock(&kn_async_lock);
    for (int i = 0; i < n; i++) {
        grpc_completion_queue_destroy(kn_async_threads[i].cq);
        kn_async_threads[i].cq = NULL;
    }
    kn_async_nthreads = 0;
    kn_async_started = 0;
    atomic_store(&kn_async_stopping, 0);
    pthread_rwlock_unlock(&kn_async_lock);
}

kn_code kn_channel_call_async(kn_channel *ch, const char *method_path, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *resp_desc, kn_arena *arena,
                              const kn_call_opts *opts, kn_call_done done, void *ud)
{
    static const kn_call_opts none;
    const kn_call_opts *o = opts != NULL ? opts : &none;
    kn_async *a = calloc(1, sizeof *a);
    if (a == NULL)
        abort();
    a->ch = ch;
    a->method = grpc_slice_from_copied_string(method_path);
    size_t n = protobuf_c_message_get_packed_size(req);
    a->req = grpc_slice_malloc(n);
    protobuf_c_message_pack(req, GRPC_SLICE_START_PTR(a->req));
    a->nmd = kn_call_md(o, a->md);
    a->deadline = kn_deadline(o);
    a->attempts = kn_attempts(o);
    a->resp_desc = resp_desc;
    a->arena = arena;
    a->done = done;
    a->ud = ud;
    a->details = grpc_empty_slice();
    if (ch == NULL) {
        a->code = kn_status_set(&a->st, KN_UNAVAILABLE, "no channel for %s", method_path);
        kn_async_finish(a);
        return KN_UNAVAILABLE;
    }

    pthread_rwlock_rdlock(&kn_async_lock);
    while (!kn_async_started && !atomic_load(&kn_async_stopping)) {
        pthread_rwlock_unlock(&kn_async_lock);
        kn_async_start_threads();
        pthread_rwlock_rdlock(&kn_async_lock);
    }
    kn_code code;
    if (atomic_load(&kn_async_stopping)) {
        code = a->code = kn_status_set(&a->st, KN_UNAVAILABLE, "the client is shutting down");
    } else {
        unsigned i = atomic_fetch_add(&kn_async_rr, 1) % (unsigned)kn_async_nthreads;
        a->t = &kn_async_threads[i];
        /* Once started, a belongs to the completion thread. */
        code = kn_async_attempt(a);
    }
    pthread_rwlock_unlock(&kn_async_lock);
    if (code != KN_OK) {
        if (code == KN_INTERNAL) {
            char why[KN_STATUS_MSG_MAX];
            memcpy(why, a->st.message, sizeof why);
            kn_status_set(&a->st, KN_INTERNAL, "cannot start a call to %s: %s", method_path, why);
        }
        kn_async_finish(a);
    }
    return code;
}
