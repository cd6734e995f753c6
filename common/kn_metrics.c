/* kn_metrics: static, fixed-size series of relaxed atomics. A histogram
 * keeps per-bucket (non-cumulative) counts; its _count and the +Inf bucket
 * are the sum of the buckets at render time, so a scrape racing with a
 * recording thread still shows a self-consistent histogram. Durations are
 * kept in integer microseconds and printed as decimal seconds without
 * floating point, so the text is exact and stable (the unit test compares
 * it byte for byte). */
#include "kn_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kn_status.h"

#define KN_NCODES        17
#define KN_METHOD_MAXLEN 128
#define KN_OTHER_SLOT    KN_METRICS_MAX_METHODS

static const uint64_t kn_grpc_bounds_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
#define KN_GRPC_NB (sizeof kn_grpc_bounds_us / sizeof kn_grpc_bounds_us[0])

static const uint64_t kn_lock_bounds_us[] = {500,    1000,   5000,    10000,   50000,
                                             100000, 500000, 1000000, 5000000, 10000000};
#define KN_LOCK_NB (sizeof kn_lock_bounds_us / sizeof kn_lock_bounds_us[0])

typedef struct {
    _Atomic uint64_t bucket[KN_GRPC_NB + 1]; /* last: above the largest bound */
    _Atomic uint64_t sum_us;
} kn_grpc_hist;

static struct {
    pthread_mutex_t mu; /* registration only */
    char names[KN_METRICS_MAX_METHODS][KN_METHOD_MAXLEN];
    atomic_int n; /* published with release after the name is written */
} kn_methods = {.mu = PTHREAD_MUTEX_INITIALIZER};

static kn_grpc_hist kn_grpc[KN_METRICS_MAX_METHODS + 1][KN_NCODES];
static _Atomic int64_t kn_grpc_inflight;

static _Atomic int64_t kn_db_open_n;
static _Atomic int64_t kn_db_in_use_n;
static _Atomic uint64_t kn_db_errors_n;

static _Atomic uint64_t kn_cache_n[3];
static const char *const kn_cache_names[3] = {"hit", "miss", "error"};

static _Atomic uint64_t kn_lock_bucket[KN_LOCK_NB + 1];
static _Atomic uint64_t kn_lock_sum_us;
static _Atomic uint64_t kn_lock_n[4];
static const char *const kn_lock_names[4] = {"acquired", "fallback", "busy", "error"};

static _Atomic int64_t kn_start_us;
static char kn_service_name[64];

static int64_t kn_realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void kn_metrics_init(const char *service)
{
    int64_t zero = 0;
    atomic_compare_exchange_strong(&kn_start_us, &zero, kn_realtime_us());
    if (service != NULL) {
        pthread_mutex_lock(&kn_methods.mu);
        snprintf(kn_service_name, sizeof kn_service_name, "%s", service);
        pthread_mutex_unlock(&kn_methods.mu);
    }
}

int kn_metrics_method_register(const char *method)
{
    if (method == NULL || strlen(method) >= KN_METHOD_MAXLEN)
        return KN_METRICS_OTHER;
    pthread_mutex_lock(&kn_methods.mu);
    int n = atomic_load_explicit(&kn_methods.n, memory_order_relaxed);
    int idx = KN_METRICS_OTHER;
    for (int i = 0; i < n; i++) {
        if (strcmp(kn_methods.names[i], method) == 0) {
            idx = i;
            break;
        }
    }
    if (idx == KN_METRICS_OTHER && n < KN_METRICS_MAX_METHODS) {
        snprintf(kn_methods.names[n], KN_METHOD_MAXLEN, "%s", method);
        atomic_store_explicit(&kn_methods.n, n + 1, memory_order_release);
        idx = n;
    }
    pthread_mutex_unlock(&kn_methods.mu);
    return idx;
}

int kn_metrics_method_index(const char *method)
{
    if (method == NULL)
        return KN_METRICS_OTHER;
    int n = atomic_load_explicit(&kn_methods.n, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (strcmp(kn_methods.names[i], method) == 0)
            return i;
    }
    return KN_METRICS_OTHER;
}

static void kn_hist_add(_Atomic uint64_t *buckets, _Atomic uint64_t *sum, const uint64_t *bounds,
                        size_t nb, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    size_t b = 0;
    /* Prometheus buckets are "less than or equal". */
    while (b < nb && v > bounds[b])
        b++;
    atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(sum, v, memory_order_relaxed);
}

void kn_metrics_grpc_observe(int method_index, int code, int64_t duration_us)
{
    int m = method_index;
    if (m < 0 || m >= atomic_load_explicit(&kn_methods.n, memory_order_relaxed))
        m = KN_OTHER_SLOT;
    if (code < 0 || code >= KN_NCODES)
        code = KN_UNKNOWN;
    kn_grpc_hist *h = &kn_grpc[m][code];
    kn_hist_add(h->bucket, &h->sum_us, kn_grpc_bounds_us, KN_GRPC_NB, duration_us);
}

void kn_metrics_grpc_request(const char *method, int code, int64_t duration_us)
{
    kn_metrics_grpc_observe(kn_metrics_method_index(method), code, duration_us);
}

void kn_metrics_grpc_in_flight(int delta)
{
    atomic_fetch_add_explicit(&kn_grpc_inflight, delta, memory_order_relaxed);
}

void kn_metrics_db_open(int delta)
{
    atomic_fetch_add_explicit(&kn_db_open_n, delta, memory_order_relaxed);
}

void kn_metrics_db_in_use(int delta)
{
    atomic_fetch_add_explicit(&kn_db_in_use_n, delta, memory_order_relaxed);
}

void kn_metrics_db_error(void)
{
    atomic_fetch_add_explicit(&kn_db_errors_n, 1, memory_order_relaxed);
}

void kn_metrics_cache(kn_metrics_cache_result r)
{
    if ((unsigned)r > KN_METRICS_CACHE_ERROR)
        r = KN_METRICS_CACHE_ERROR;
    atomic_fetch_add_explicit(&kn_cache_n[r], 1, memory_order_relaxed);
}

void kn_metrics_lock(kn_metrics_lock_result r, int64_t wait_us)
{
    if ((unsigned)r > KN_METRICS_LOCK_ERROR)
        r = KN_METRICS_LOCK_ERROR;
    atomic_fetch_add_explicit(&kn_lock_n[r], 1, memory_order_relaxed);
    kn_hist_add(kn_lock_bucket, &kn_lock_sum_us, kn_lock_bounds_us, KN_LOCK_NB, wait_us);
}

/* --- rendering ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap;
    size_t len; /* the full length, even past cap */
} kn_sb;

static void kn_sb_printf(kn_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void kn_sb_printf(kn_sb *b, const char *fmt, ...)
{
    char *dst = NULL;
    size_t room = 0;
    if (b->len < b->cap) {
        dst = b->buf + b->len;
        room = b->cap - b->len;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n;
}

/* Microseconds as decimal seconds with no trailing zeros: 12500 → "0.0125". */
static const char *kn_fmt_us(char *out, size_t n, uint64_t us)
{
    uint64_t frac = us % 1000000;
    if (frac == 0) {
        snprintf(out, n, "%llu", (unsigned long long)(us / 1000000));
        return out;
    }
    snprintf(out, n, "%llu.%06llu", (unsigned long long)(us / 1000000), (unsigned long long)frac);
    size_t l = strlen(out);
    while (l > 0 && out[l - 1] == '0')
        out[--l] = '\0';
    return out;
}

/* A label value with \, " and newline escaped as the format requires. */
static const char *kn_label_escape(char *out, size_t n, const char *in)
{
    size_t o = 0;
    for (; *in != '\0' && o + 3 < n; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
    return out;
}

static void kn_sb_header(kn_sb *b, const char *name, const char *type, const char *help)
{
    kn_sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The _bucket, _sum and _count lines of one histogram series; labels is ""
 * or `method="...",code="..."` (no braces). */
static void kn_sb_hist(kn_sb *b, const char *name, const char *labels, _Atomic uint64_t *buckets,
                       _Atomic uint64_t *sum, const uint64_t *bounds, size_t nb)
{
    const char *sep = *labels != '\0' ? "," : "";
    char num[32];
    uint64_t cum = 0;
    for (size_t i = 0; i <= nb; i++) {
        cum += atomic_load_explicit(&buckets[i], memory_order_relaxed);
        const char *le = i < nb ? kn_fmt_us(num, sizeof num, bounds[i]) : "+Inf";
        kn_sb_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, le,
                     (unsigned long long)cum);
    }
    uint64_t s = atomic_load_explicit(sum, memory_order_relaxed);
    if (*labels != '\0') {
        kn_sb_printf(b, "%s_sum{%s} %s\n", name, labels, kn_fmt_us(num, sizeof num, s));
        kn_sb_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
    } else {
        kn_sb_printf(b, "%s_sum %s\n", name, kn_fmt_us(num, sizeof num, s));
        kn_sb_printf(b, "%s_count %llu\n", name, (unsigned long long)cum);
    }
}

static uint64_t kn_hist_count(const kn_grpc_hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= KN_GRPC_NB; i++)
        n += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    return n;
}

static long long kn_resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return 0;
    char buf[128];
    long long resident = 0;
    int ok = 0;
    if (fgets(buf, sizeof buf, f) != NULL) {
        char *end = NULL;
        strtoll(buf, &end, 10); /* size, then resident (pages) */
        resident = strtoll(end, &end, 10);
        ok = resident > 0;
    }
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? resident * page : 0;
}

static const char *kn_method_label(int m)
{
    return m == KN_OTHER_SLOT ? "other" : kn_methods.names[m];
}

size_t kn_metrics_render(char *buf, size_t cap)
{
    kn_metrics_init(NULL);
    kn_sb b = {buf, cap, 0};
    if (cap > 0)
        buf[0] = '\0';
    char esc[2 * KN_METHOD_MAXLEN + 4];
    char labels[3 * KN_METHOD_MAXLEN];
    char num[32];
    int nm = atomic_load_explicit(&kn_methods.n, memory_order_acquire);

    char svc[sizeof kn_service_name];
    pthread_mutex_lock(&kn_methods.mu);
    memcpy(svc, kn_service_name, sizeof svc);
    pthread_mutex_unlock(&kn_methods.mu);
    kn_sb_header(&b, "konnect_build_info", "gauge", "Konnect build; the value is always 1.");
    kn_sb_printf(&b, "konnect_build_info{service=\"%s\",version=\"%s\"} 1\n",
                 kn_label_escape(esc, sizeof esc, svc), KN_VERSION);

    kn_sb_header(&b, "konnect_process_start_time_seconds", "gauge",
                 "Start time of the process since the Unix epoch in seconds.");
    kn_sb_printf(&b, "konnect_process_start_time_seconds %s\n",
                 kn_fmt_us(num, sizeof num, (uint64_t)atomic_load(&kn_start_us)));
    kn_sb_header(&b, "konnect_process_resident_memory_bytes", "gauge",
                 "Resident memory size in bytes.");
    kn_sb_printf(&b, "konnect_process_resident_memory_bytes %lld\n", kn_resident_bytes());

    /* Methods in registration order, then "other"; codes in numeric order;
     * only series that saw a call. */
    kn_sb_header(&b, "konnect_grpc_requests_total", "counter",
                 "gRPC calls served, by method and status code.");
    for (int i = 0; i <= nm; i++) {
        int m = i < nm ? i : KN_OTHER_SLOT;
        for (int c = 0; c < KN_NCODES; c++) {
            uint64_t n = kn_hist_count(&kn_grpc[m][c]);
            if (n == 0)
                continue;
            kn_sb_printf(&b, "konnect_grpc_requests_total{method=\"%s\",code=\"%s\"} %llu\n",
                         kn_label_escape(esc, sizeof esc, kn_method_label(m)),
                         kn_code_name((kn_code)c), (unsigned long long)n);
        }
    }
    kn_sb_header(&b, "konnect_grpc_request_duration_seconds", "histogram",
                 "Time from receiving a gRPC call to sending its status.");
    for (int i = 0; i <= nm; i++) {
        int m = i < nm ? i : KN_OTHER_SLOT;
        for (int c = 0; c < KN_NCODES; c++) {
            kn_grpc_hist *h = &kn_grpc[m][c];
            if (kn_hist_count(h) == 0)
                continue;
            snprintf(labels, sizeof labels, "method=\"%s\",code=\"%s\"",
                     kn_label_escape(esc, sizeof esc, kn_method_label(m)),
                     kn_code_name((kn_code)c));
            kn_sb_hist(&b, "konnect_grpc_request_duration_seconds", labels, h->bucket, &h->sum_us,
                       kn_grpc_bounds_us, KN_GRPC_NB);
        }
    }
    kn_sb_header(&b, "konnect_grpc_requests_in_flight", "gauge",
                 "gRPC calls being served right now.");
    kn_sb_printf(&b, "konnect_grpc_requests_in_flight %lld\n",
                 (long long)atomic_load_explicit(&kn_grpc_inflight, memory_order_relaxed));

    kn_sb_header(&b, "konnect_db_connections_open", "gauge", "Open PostgreSQL connections.");
    kn_sb_printf(&b, "konnect_db_connections_open %lld\n",
                 (long long)atomic_load_explicit(&kn_db_open_n, memory_order_relaxed));
    kn_sb_header(&b, "konnect_db_connections_in_use", "gauge",
                 "PostgreSQL connections running a statement right now.");
    kn_sb_printf(&b, "konnect_db_connections_in_use %lld\n",
                 (long long)atomic_load_explicit(&kn_db_in_use_n, memory_order_relaxed));
    kn_sb_header(&b, "konnect_db_errors_total", "counter",
                 "Failed PostgreSQL connects and statements.");
    kn_sb_printf(&b, "konnect_db_errors_total %llu\n",
                 (unsigned long long)atomic_load_explicit(&kn_db_errors_n, memory_order_relaxed));

    kn_sb_header(&b, "konnect_cache_requests_total", "counter",
                 "Redis cache lookups by result (error: Redis unavailable).");
    for (int r = 0; r < 3; r++)
        kn_sb_printf(
            &b, "konnect_cache_requests_total{result=\"%s\"} %llu\n", kn_cache_names[r],
            (unsigned long long)atomic_load_explicit(&kn_cache_n[r], memory_order_relaxed));

    kn_sb_header(&b, "konnect_lock_wait_seconds", "histogram",
                 "Time spent acquiring a distributed lock.");
    kn_sb_hist(&b, "konnect_lock_wait_seconds", "", kn_lock_bucket, &kn_lock_sum_us,
               kn_lock_bounds_us, KN_LOCK_NB);
    kn_sb_header(&b, "konnect_lock_acquire_total", "counter",
                 "Distributed lock attempts by result (fallback: PostgreSQL advisory lock).");
    for (int r = 0; r < 4; r++)
        kn_sb_printf(&b, "konnect_lock_acquire_total{result=\"%s\"} %llu\n", kn_lock_names[r],
                     (unsigned long long)atomic_load_explicit(&kn_lock_n[r], memory_order_relaxed));
    return b.len;
}

char *kn_metrics_render_alloc(size_t *len)
{
    size_t cap = 16384;
    for (int tries = 0; tries < 4; tries++) {
        char *buf = malloc(cap);
        if (buf == NULL)
            return NULL;
        size_t n = kn_metrics_render(buf, cap);
        if (n < cap) {
            if (len != NULL)
                *len = n;
            return buf;
        }
        free(buf);
        /* Another thread may add a series between the two renders. */
        cap = n + 4096;
    }
    return NULL;
}

static void kn_zero(_Atomic uint64_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        atomic_store(&a[i], 0);
}

void kn_metrics_reset(void)
{
    pthread_mutex_lock(&kn_methods.mu);
    atomic_store(&kn_methods.n, 0);
    memset(kn_methods.names, 0, sizeof kn_methods.names);
    kn_service_name[0] = '\0';
    pthread_mutex_unlock(&kn_methods.mu);
    for (int m = 0; m <= KN_METRICS_MAX_METHODS; m++) {
        for (int c = 0; c < KN_NCODES; c++) {
            kn_zero(kn_grpc[m][c].bucket, KN_GRPC_NB + 1);
            atomic_store(&kn_grpc[m][c].sum_us, 0);
        }
    }
    atomic_store(&kn_grpc_inflight, 0);
    atomic_store(&kn_db_open_n, 0);
    atomic_store(&kn_db_in_use_n, 0);
    atomic_store(&kn_db_errors_n, 0);
    kn_zero(kn_cache_n, 3);
    kn_zero(kn_lock_bucket, KN_LOCK_NB + 1);
    atomic_store(&kn_lock_sum_us, 0);
    kn_zero(kn_lock_n, 4);
    atomic_store(&kn_start_us, 0);
}
