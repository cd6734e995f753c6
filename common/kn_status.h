/* kn_status: gRPC status codes and an error message, the one error currency
 * of Konnect. Codes mirror grpc_status_code so services never include the
 * gRPC core headers. */
#ifndef KN_STATUS_H
#define KN_STATUS_H

typedef enum {
    KN_OK = 0,
    KN_CANCELLED = 1,
    KN_UNKNOWN = 2,
    KN_INVALID_ARGUMENT = 3,
    KN_DEADLINE_EXCEEDED = 4,
    KN_NOT_FOUND = 5,
    KN_ALREADY_EXISTS = 6,
    KN_PERMISSION_DENIED = 7,
    KN_RESOURCE_EXHAUSTED = 8,
    KN_FAILED_PRECONDITION = 9,
    KN_ABORTED = 10,
    KN_OUT_OF_RANGE = 11,
    KN_UNIMPLEMENTED = 12,
    KN_INTERNAL = 13,
    KN_UNAVAILABLE = 14,
    KN_DATA_LOSS = 15,
    KN_UNAUTHENTICATED = 16,
} kn_code;

#define KN_STATUS_MSG_MAX 256

typedef struct {
    kn_code code;
    char message[KN_STATUS_MSG_MAX];
} kn_status;

/* Sets code and a printf-style message; returns code so callers can write
 * `return kn_status_set(st, KN_NOT_FOUND, "order %s not found", id);`. */
kn_code kn_status_set(kn_status *st, kn_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void kn_status_clear(kn_status *st);

/* "INVALID_ARGUMENT" etc.; "UNKNOWN" for a value out of range. */
const char *kn_code_name(kn_code code);

#endif
