/* kn_client: unary calls to another Konnect service. One kn_channel per
 * target service, shared by all threads (the gRPC core channel is
 * thread-safe); targets may list several addresses
 * ("ipv4:127.0.0.1:7001,127.0.0.1:7002") or use DNS ("dns:///svc:7001"),
 * and calls are spread round-robin over them. Each thread completes its
 * blocking calls on its own pluck queue, so there is no shared queue to
 * contend on; asynchronous calls complete on the library's own threads. */
#ifndef KN_CLIENT_H
#define KN_CLIENT_H

#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "kn_arena.h"
#include "kn_server.h"
#include "kn_status.h"

typedef struct kn_channel kn_channel;

kn_channel *kn_channel_new(const char *target, int max_message_bytes);
void kn_channel_free(kn_channel *ch);

typedef struct {
    int timeout_ms;            /* 0: 5000 */
    int idempotent;            /* retry UNAVAILABLE with backoff */
    int max_attempts;          /* for idempotent calls; 0: 4 */
    const char *authorization; /* full header value "Bearer ...", or NULL */
    const char *request_id;    /* x-request-id, or NULL */
    /* When set, the call is signed as coming from this service (see
     * KN_METHOD_INTERNAL in kn_server.h) with internal_secret. */
    const char *caller_service;
    const unsigned char *internal_secret;
    size_t internal_secret_len;
} kn_call_opts;

/* Calls method_path ("/konnect.location.v1.LocationService/AttachPackages").
 * On KN_OK *resp is decoded into arena. Otherwise st holds the status the
 * callee sent (code and message as they are), or UNAVAILABLE /
 * DEADLINE_EXCEEDED from the transport. */
kn_code kn_channel_call(kn_channel *ch, const char *method_path, const ProtobufCMessage *req,
                        const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
                        kn_arena *arena, const kn_call_opts *opts, kn_status *st);

/* The same from inside a handler: forwards the caller's token and request id,
 * signs the call as this service, and never waits past the caller's
 * deadline; memory from the call's arena. */
kn_code kn_call_downstream(kn_call *parent, kn_channel *ch, const char *method_path,
                           const ProtobufCMessage *req, const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, int idempotent, kn_status *st);

/* The options kn_call_downstream uses: the caller's token, request id and
 * deadline, signed as this service (strings in the call's arena).
 * KN_DEADLINE_EXCEEDED when the caller has no time left. */
kn_code kn_call_downstream_opts(kn_call *parent, const char *method_path, int idempotent,
                                kn_call_opts *o, kn_status *st);

/* One call of kn_channel_call_all: the inputs, then what kn_channel_call
 * would have returned. */
typedef struct {
    kn_channel *ch;
    const char *method_path;
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *resp_desc;
    kn_call_opts opts;
    kn_code code;
    kn_status st;
    ProtobufCMessage *resp; /* decoded into the arena on KN_OK */
} kn_call_spec;

#define KN_CALL_ALL_MAX 8

/* Runs up to KN_CALL_ALL_MAX calls at once from the calling thread (on its
 * own queue, as kn_channel_call does) and returns when every one has
 * answered: a chain of independent calls costs the slowest of them, not
 * their sum. UNAVAILABLE of an idempotent call is then retried as
 * kn_channel_call would. */
void kn_channel_call_all(kn_call_spec *calls, size_t n, kn_arena *arena);

/* The same with the message already encoded (tools, tests, proxies): the
 * response bytes are copied into arena (*resp_len may be 0). */
kn_code kn_channel_call_raw(kn_channel *ch, const char *method_path, const void *req,
                            size_t req_len, void **resp, size_t *resp_len, kn_arena *arena,
                            const kn_call_opts *opts, kn_status *st);

/* --- asynchronous unary calls ----------------------------------------------
 *
 * For a process that must not block a thread per call in flight (the HTTP
 * gateway). The call completes on one of the library's completion-queue
 * threads (started by the first asynchronous call, stopped by
 * kn_client_shutdown); metadata, signing, deadline and the retry of
 * UNAVAILABLE for idempotent calls are those of kn_channel_call (a retry
 * waits out its backoff on the completion thread, holding no thread). */

/* code and st as kn_channel_call would return them; on KN_OK resp is the
 * decoded response (in the arena given to the call), else NULL. Runs once
 * per call: on a completion thread, or on the calling thread before
 * kn_channel_call_async returns when the call cannot start. It may start
 * further asynchronous calls but must not block (every call completing on
 * that thread waits for it) and must not call kn_client_shutdown. */
typedef void (*kn_call_done)(void *ud, kn_code code, const kn_status *st, ProtobufCMessage *resp);

/* Starts method_path with req (encoded before returning: req and opts need
 * not outlive this call). arena must stay valid until done has run and is
 * touched only by the call until then. Returns KN_OK when the call started
 * (done runs later), otherwise the error, done having already run. */
kn_code kn_channel_call_async(kn_channel *ch, const char *method_path, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *resp_desc, kn_arena *arena,
                              const kn_call_opts *opts, kn_call_done done, void *ud);

/* The number of completion threads (1..8, default 1) started by the next
 * first asynchronous call; calls are spread over them round-robin. */
void kn_client_set_async_threads(int n);

/* Refuses new asynchronous calls (their done gets UNAVAILABLE), lets those
 * in flight finish (backoffs cut short), runs their done, and joins the
 * completion threads. Call before kn_channel_free of a channel with calls
 * in flight and before kn_runtime_shutdown; a later asynchronous call
 * starts the threads again. Not from a done callback. */
void kn_client_shutdown(void);

/* grpc.health.v1.Health/Check on the channel: 1 SERVING, 0 otherwise. */
int kn_channel_health(kn_channel *ch, const char *service, int timeout_ms);

#endif
