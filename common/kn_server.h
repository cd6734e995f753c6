/* kn_server: a unary gRPC server on the gRPC core's completion-queue API.
 * Every grpc_* call of Konnect lives in common/ (kn_server.c, kn_client.c):
 * the core API changes between releases and one place to adapt is the
 * defence.
 *
 * Concurrency: `workers` threads, each with its own completion queue and
 * its own per-worker context (a PGconn, a redisContext, ...) made by
 * worker_init. A call is requested on, served on and completed on one
 * worker's queue, so the hot path takes no global lock. Handlers run on the
 * worker thread and may block (SQL, downstream calls): size `workers` for
 * the blocking you do.
 *
 * Every service's methods come from its protobuf-c service descriptor:
 * methods with a handler are served, the others answer UNIMPLEMENTED naming
 * the method, unknown paths answer UNIMPLEMENTED. grpc.health.v1.Health is
 * served by the runtime itself (Check; Watch answers the current status and
 * then each change). Check of "" or a service's full name follows readiness
 * (ready_check); Check of "liveness" answers SERVING while the workers
 * serve, whatever the database does (the Kubernetes liveness probe).
 *
 * Per call the runtime: reads the request up to max_message_bytes
 * (RESOURCE_EXHAUSTED above), decodes it with the call's arena (malformed
 * bytes: INVALID_ARGUMENT), verifies the bearer JWT unless the method is
 * public (UNAUTHENTICATED), runs the handler, encodes the response, sends
 * the status, logs one JSON line, and frees the arena. */
#ifndef KN_SERVER_H
#define KN_SERVER_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "kn_arena.h"
#include "kn_jwt.h"
#include "kn_status.h"

typedef struct kn_server kn_server;
typedef struct kn_call kn_call;

/* Returns KN_OK and sets *resp (allocated from kn_call_arena) or returns an
 * error code after kn_call_error(). */
typedef kn_code (*kn_handler)(kn_call *call, const ProtobufCMessage *req, ProtobufCMessage **resp);

enum {
    KN_METHOD_PUBLIC = 1u << 0, /* no token required (e.g. Authenticate) */
    /* Only another Konnect service may call it (SetAssignee,
     * AttachPackages, ...): the caller proves it with x-kn-caller and
     * x-kn-caller-sig = base64url(HMAC-SHA256(internal secret,
     * "<caller service>\n<bearer token>")), which kn_call_downstream adds.
     * A user token alone answers PERMISSION_DENIED. The user's token is
     * still required and verified. */
    KN_METHOD_INTERNAL = 1u << 1,
};

typedef struct {
    const char *method; /* the method's name in the proto, e.g. "CreateOrder" */
    kn_handler fn;
    unsigned flags;
} kn_method_binding;

typedef struct {
    const char *service; /* "order-svc", for logs */
    const char *listen;  /* "127.0.0.1:7101", "0.0.0.0:0" picks a free port */
    int workers;
    int max_message_bytes;
    int grace_ms; /* drain time on SIGTERM before in-flight calls are cancelled */
    const unsigned char *jwt_secret;
    size_t jwt_secret_len;
    /* During a secret rotation, tokens signed with this second secret are
     * accepted too (it never signs). Empty: none. */
    const unsigned char *jwt_verify_secret;
    size_t jwt_verify_secret_len;
    /* Shared by the services to sign service-to-service calls. */
    const unsigned char *internal_secret;
    size_t internal_secret_len;
    /* Per-worker context, made on the worker thread before it serves and
     * destroyed on it after. May be NULL. */
    void *(*worker_init)(int worker_index, void *ud);
    void (*worker_destroy)(void *worker_ctx, void *ud);
    /* Readiness probe run every ready_interval_ms on a runtime thread;
     * returns 1 when the service can serve (database reachable, migrations
     * done). NULL: always ready. */
    int (*ready_check)(void *ud);
    int ready_interval_ms;
    /* Called on the worker thread after every handler, e.g. to roll back a
     * transaction that a handler's error path left open. May be NULL. */
    void (*call_done)(void *worker_ctx, void *ud);
    /* Test hook, set only when KN_TEST_HOOKS=1: calls of this method path
     * sleep test_slow_ms before their handler runs (shutdown drain tests). */
    const char *test_slow_method;
    int test_slow_ms;
    void *ud;
} kn_server_config;

/* Blocks SIGINT/SIGTERM in the calling thread (so that threads started
 * later inherit the mask) and initialises the gRPC core. Call first in
 * main(), before any other thread exists. */
void kn_runtime_init(void);
void kn_runtime_shutdown(void);

kn_server *kn_server_new(const kn_server_config *cfg);
void kn_server_free(kn_server *s);

/* Binds handlers to the methods of svc; a binding whose name is not in svc
 * is a programming error reported as KN_INTERNAL. Call before start. */
kn_code kn_server_add_service(kn_server *s, const ProtobufCServiceDescriptor *svc,
                              const kn_method_binding *bindings, size_t n, kn_status *st);

/* Binds the port and starts the workers; returns the bound port (> 0) or -1. */
int kn_server_start(kn_server *s);

/* Blocks until SIGTERM or SIGINT, then shuts down gracefully: health goes
 * NOT_SERVING, no new calls are accepted, in-flight calls get grace_ms to
 * finish, then the rest are cancelled. Returns 0. */
int kn_server_wait(kn_server *s);

/* Starts the same shutdown from code (tests, fatal errors). Thread-safe. */
void kn_server_request_stop(kn_server *s);

/* --- inside a handler --------------------------------------------------- */

kn_arena *kn_call_arena(kn_call *call);
/* The verified caller; for public methods, a zeroed identity. */
const kn_identity *kn_call_identity(kn_call *call);
/* The raw bearer token, to forward to downstream services ("" if none). */
const char *kn_call_token(kn_call *call);
/* x-request-id metadata, or one generated by the runtime. */
const char *kn_call_request_id(kn_call *call);
/* Any request metadata value (keys lower-case), NULL if absent. The string
 * lives in the call's arena. */
const char *kn_call_metadata(kn_call *call, const char *key);
/* The calling Konnect service ("assign-svc") when the call carried a valid
 * caller signature, else NULL. */
const char *kn_call_peer_service(kn_call *call);
/* The name of this server's service ("order-svc"), for downstream calls. */
const char *kn_call_service_name(kn_call *call);
/* Milliseconds left before the caller's deadline (INT64_MAX if none). */
int64_t kn_call_remaining_ms(kn_call *call);
/* The worker context made by worker_init. */
void *kn_call_worker(kn_call *call);
int kn_call_worker_index(kn_call *call);

/* Records the error status for the call and returns code. */
kn_code kn_call_error(kn_call *call, kn_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Copies a kn_status (e.g. from a store or a downstream call). */
kn_code kn_call_fail(kn_call *call, const kn_status *st);

/* Role checks: KN_PERMISSION_DENIED with a message naming the role. */
kn_code kn_call_require_role(kn_call *call, kn_role role);

#endif
