/* kn_internal: what the runtime's own files share (server, client, service);
 * not for services. */
#ifndef KN_INTERNAL_H
#define KN_INTERNAL_H

#include <stddef.h>
#include "kn_server.h"

/* base64url without padding of a 32-byte HMAC is 43 characters. */
#define KN_CALLER_SIG_MAX 48

/* x-kn-caller-sig = base64url-no-padding(HMAC-SHA256(secret, caller "\n" token)),
 * token without the "Bearer " prefix. */
void kn_caller_sig(const unsigned char *secret, size_t secret_len, const char *caller,
                   const char *token, char out[KN_CALLER_SIG_MAX]);

/* The server's internal secret, to sign downstream calls. */
void kn_call_internal_secret(kn_call *call, const unsigned char **secret, size_t *len);

/* Destroys the calling thread's client completion queue, if any; run by
 * kn_runtime_shutdown for the main thread (other threads do it at exit). */
void kn_client_thread_cleanup(void);

#endif
