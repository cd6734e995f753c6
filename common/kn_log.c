/* kn_log: one JSON object per line on stderr, written with a single
 * write(2) so that lines from concurrent threads never interleave. */
#include "kn_log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "kn_status.h"

static char kn_log_service[64] = "konnect";
static atomic_int kn_log_min = KN_LOG_INFO;

static const char *const kn_level_names[] = {"debug", "info", "warn", "error"};

void kn_log_set_level(kn_log_level level)
{
    if (level < KN_LOG_DEBUG)
        level = KN_LOG_DEBUG;
    if (level > KN_LOG_ERROR)
        level = KN_LOG_ERROR;
    atomic_store(&kn_log_min, (int)level);
}

void kn_log_init(const char *service)
{
    if (service != NULL)
        snprintf(kn_log_service, sizeof kn_log_service, "%s", service);
    const char *lv = getenv("KN_LOG_LEVEL");
    if (lv == NULL || *lv == '\0')
        return;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(lv, kn_level_names[i]) == 0) {
            kn_log_set_level((kn_log_level)i);
            return;
        }
    }
    if (strcasecmp(lv, "warning") == 0) {
        kn_log_set_level(KN_LOG_WARN);
        return;
    }
    kn_log(KN_LOG_WARN, "KN_LOG_LEVEL=%s is not one of debug|info|warn|error; using info", lv);
}

/* jansson refuses invalid UTF-8; a log line must still be written, so
 * bytes that do not decode are replaced. */
static json_t *kn_json_str(const char *s)
{
    if (s == NULL)
        s = "";
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return json_string("");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        copy[i] = c < 0x80 ? (char)c : '?';
    }
    copy[n] = '\0';
    j = json_string(copy);
    free(copy);
    return j != NULL ? j : json_string("");
}

static json_t *kn_log_begin(kn_log_level level, const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char tbuf[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tbuf + n, sizeof tbuf - n, ".%03ldZ", ts.tv_nsec / 1000000L);

    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "time", json_string(tbuf));
    json_object_set_new(o, "level", json_string(kn_level_names[level]));
    json_object_set_new(o, "service", kn_json_str(kn_log_service));
    json_object_set_new(o, "msg", kn_json_str(msg));
    return o;
}

static void kn_log_emit(json_t *o)
{
    char stackbuf[2048];
    char *buf = stackbuf;
    size_t n = json_dumpb(o, stackbuf, sizeof stackbuf - 1, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (n == 0)
        return;
    if (n >= sizeof stackbuf - 1) {
        buf = malloc(n + 1);
        if (buf == NULL)
            return;
        n = json_dumpb(o, buf, n, JSON_COMPACT | JSON_REAL_PRECISION(9));
    }
    buf[n++] = '\n';
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDERR_FILENO, buf + off, n - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    if (buf != stackbuf)
        free(buf);
}

void kn_log(kn_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&kn_log_min))
        return;
    if (level < KN_LOG_DEBUG || level > KN_LOG_ERROR)
        level = KN_LOG_ERROR;
    char stackmsg[1024];
    char *msg = stackmsg;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stackmsg, sizeof stackmsg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof stackmsg) {
        msg = malloc((size_t)n + 1);
        if (msg == NULL) {
            msg = stackmsg; /* keep the truncated text */
        } else {
            va_start(ap, fmt);
            vsnprintf(msg, (size_t)n + 1, fmt, ap);
            va_end(ap);
        }
    } else if (n < 0) {
        stackmsg[0] = '\0';
    }
    json_t *o = kn_log_begin(level, msg);
    if (msg != stackmsg)
        free(msg);
    if (o == NULL)
        return;
    kn_log_emit(o);
    json_decref(o);
}

void kn_log_request(const char *method, int code, const char *message, int64_t duration_us,
                    const char *request_id, const char *tenant_id, const char *user_id)
{
    if (KN_LOG_INFO < atomic_load(&kn_log_min))
        return;
    json_t *o = kn_log_begin(KN_LOG_INFO, "request");
    if (o == NULL)
        return;
    json_object_set_new(o, "method", kn_json_str(method));
    json_object_set_new(o, "code", json_string(kn_code_name((kn_code)code)));
    if (code != 0 && message != NULL && *message != '\0')
        json_object_set_new(o, "message", kn_json_str(message));
    json_object_set_new(o, "duration_ms", json_real((double)duration_us / 1000.0));
    if (request_id != NULL && *request_id != '\0')
        json_object_set_new(o, "request_id", kn_json_str(request_id));
    if (tenant_id != NULL && *tenant_id != '\0')
        json_object_set_new(o, "tenant", kn_json_str(tenant_id));
    if (user_id != NULL && *user_id != '\0')
        json_object_set_new(o, "user", kn_json_str(user_id));
    kn_log_emit(o);
    json_decref(o);
}
