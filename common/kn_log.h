/* kn_log: structured logs, one JSON object per line on stderr. Never pass a
 * secret (password, token, database URL with password) to these functions. */
#ifndef KN_LOG_H
#define KN_LOG_H

#include <stdint.h>

typedef enum { KN_LOG_DEBUG = 0, KN_LOG_INFO, KN_LOG_WARN, KN_LOG_ERROR } kn_log_level;

/* Sets the service name written in every line and the minimum level
 * (KN_LOG_LEVEL=debug|info|warn|error). */
void kn_log_init(const char *service);
void kn_log_set_level(kn_log_level level);

void kn_log(kn_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define kn_log_debug(...) kn_log(KN_LOG_DEBUG, __VA_ARGS__)
#define kn_log_info(...)  kn_log(KN_LOG_INFO, __VA_ARGS__)
#define kn_log_warn(...)  kn_log(KN_LOG_WARN, __VA_ARGS__)
#define kn_log_error(...) kn_log(KN_LOG_ERROR, __VA_ARGS__)

/* The one line per request: method, status, duration, request id, caller. */
void kn_log_request(const char *method, int code, const char *message, int64_t duration_us,
                    const char *request_id, const char *tenant_id, const char *user_id);

#endif
