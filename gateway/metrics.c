/* /metrics in the Prometheus text format: requests by route and status, a
 * latency histogram per route, open connections. Relaxed atomic counters:
 * no lock on the request path. */
#include "gateway.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 64
#define NSTATUS    600

static const double bounds_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5};
#define NBOUNDS (sizeof bounds_s / sizeof bounds_s[0])

static _Atomic uint64_t counts[MAX_ROUTES][NSTATUS];
static _Atomic uint64_t hist[MAX_ROUTES][NBOUNDS + 1];
static _Atomic uint64_t sum_us[MAX_ROUTES];
static _Atomic long open_conns;
static _Atomic long slow_clients;

void gw_metrics_observe(int route_index, int status, int64_t duration_us)
{
    if (route_index < 0 || route_index >= MAX_ROUTES)
        route_index = GW_ROUTE_UNMATCHED;
    if (status < 0 || status >= NSTATUS)
        status = 0;
    atomic_fetch_add_explicit(&counts[route_index][status], 1, memory_order_relaxed);
    double s = (double)duration_us / 1e6;
    size_t b = 0;
    while (b < NBOUNDS && s > bounds_s[b])
        b++;
    atomic_fetch_add_explicit(&hist[route_index][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sum_us[route_index], (uint64_t)duration_us, memory_order_relaxed);
}

void gw_metrics_conn(int delta)
{
    atomic_fetch_add_explicit(&open_conns, delta, memory_order_relaxed);
}

void gw_metrics_slow_client(void)
{
    atomic_fetch_add_explicit(&slow_clients, 1, memory_order_relaxed);
}

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;

static void put(sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(sbuf *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < s->cap - s->len) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap * 2 + (size_t)n;
        char *nb = realloc(s->buf, cap);
        if (nb == NULL)
            return;
        s->buf = nb;
        s->cap = cap;
    }
}

static void route_labels(int i, char *out, size_t outlen)
{
    if (i < (int)gw_nroutes)
        snprintf(out, outlen, "method=\"%s\",route=\"%s\"", gw_routes[i].method, gw_routes[i].path);
    else if (i == GW_ROUTE_STATIC)
        snprintf(out, outlen, "method=\"GET\",route=\"static\"");
    else
        snprintf(out, outlen, "method=\"\",route=\"unmatched\"");
}

char *gw_metrics_render(size_t *len)
{
    sbuf s = {malloc(16384), 0, 16384};
    char labels[160];
    int nr = (int)gw_nroutes + 2;
    if (s.buf == NULL)
        return NULL;
    s.buf[0] = '\0';
    put(&s, "# HELP kn_gateway_requests_total HTTP requests by route and status.\n"
            "# TYPE kn_gateway_requests_total counter\n");
    for (int i = 0; i < nr; i++) {
        route_labels(i, labels, sizeof labels);
        for (int st = 0; st < NSTATUS; st++) {
            uint64_t c = atomic_load_explicit(&counts[i][st], memory_order_relaxed);
            if (c)
                put(&s, "kn_gateway_requests_total{%s,status=\"%d\"} %llu\n", labels, st,
                    (unsigned long long)c);
        }
    }
    put(&s, "# HELP kn_gateway_request_duration_seconds HTTP request latency by route.\n"
            "# TYPE kn_gateway_request_duration_seconds histogram\n");
    for (int i = 0; i < nr; i++) {
        uint64_t total = 0;
        for (size_t b = 0; b <= NBOUNDS; b++)
            total += atomic_load_explicit(&hist[i][b], memory_order_relaxed);
        if (total == 0)
            continue;
        route_labels(i, labels, sizeof labels);
        uint64_t cum = 0;
        for (size_t b = 0; b <= NBOUNDS; b++) {
            cum += atomic_load_explicit(&hist[i][b], memory_order_relaxed);
            if (b < NBOUNDS)
                put(&s, "kn_gateway_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels,
                    bounds_s[b], (unsigned long long)cum);
            else
                put(&s, "kn_gateway_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels,
                    (unsigned long long)cum);
        }
        put(&s, "kn_gateway_request_duration_seconds_sum{%s} %.6f\n", labels,
            (double)atomic_load_explicit(&sum_us[i], memory_order_relaxed) / 1e6);
        put(&s, "kn_gateway_request_duration_seconds_count{%s} %llu\n", labels,
            (unsigned long long)cum);
    }
    put(&s,
        "# HELP kn_gateway_open_connections Open HTTP connections.\n"
        "# TYPE kn_gateway_open_connections gauge\n"
        "kn_gateway_open_connections %ld\n"
        "# HELP kn_gateway_slow_clients_total Connections cut off for sending their request "
        "headers too slowly.\n"
        "# TYPE kn_gateway_slow_clients_total counter\n"
        "kn_gateway_slow_clients_total %ld\n",
        atomic_load_explicit(&open_conns, memory_order_relaxed),
        atomic_load_explicit(&slow_clients, memory_order_relaxed));
    *len = s.len;
    return s.buf;
}
