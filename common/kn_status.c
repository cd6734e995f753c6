/* kn_status: the error currency; names match grpc_status_code's. */
#include "kn_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const kn_code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

kn_code kn_status_set(kn_status *st, kn_code code, const char *fmt, ...)
{
    if (st == NULL)
        return code;
    st->code = code;
    st->message[0] = '\0';
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        /* A longer message is cut, never overflowed. */
        vsnprintf(st->message, sizeof st->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void kn_status_clear(kn_status *st)
{
    if (st == NULL)
        return;
    st->code = KN_OK;
    st->message[0] = '\0';
}

const char *kn_code_name(kn_code code)
{
    if ((int)code < 0 || (size_t)code >= sizeof kn_code_names / sizeof kn_code_names[0])
        return "UNKNOWN";
    return kn_code_names[code];
}
