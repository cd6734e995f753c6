/* Static files of the HQ web page from KN_GATEWAY_WEB_DIR. Only regular
 * files under that folder are served: a path with a ".." segment, a
 * backslash or a NUL is refused before touching the file system, and the
 * resolved real path must still lie under the folder's real path (so a
 * symlink cannot lead out either). */
#include "gateway.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot != NULL && strchr(dot, '/') == NULL)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

static int safe_relative(const char *p)
{
    if (strchr(p, '\\') != NULL)
        return 0;
    const char *seg = p;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if ((n == 2 && seg[0] == '.' && seg[1] == '.') || (n == 1 && seg[0] == '.'))
            return 0;
        if (n > 0 && seg[0] == '.')
            return 0; /* no hidden files */
        if (end == NULL)
            return 1;
        seg = end + 1;
    }
}

void gw_static_serve(const char *path, gw_response *resp)
{
    char root[PATH_MAX], full[PATH_MAX], real[PATH_MAX];
    const char *rel = path;
    while (*rel == '/')
        rel++;
    if (*rel == '\0')
        rel = "index.html";
    if (!safe_relative(rel) || realpath(gw_cfg.web_dir, root) == NULL) {
        gw_error(resp, 404, 5, "not found");
        return;
    }
    if ((size_t)snprintf(full, sizeof full, "%s/%s", root, rel) >= sizeof full ||
        realpath(full, real) == NULL) {
        gw_error(resp, 404, 5, "not found");
        return;
    }
    size_t rl = strlen(root);
    if (strncmp(real, root, rl) != 0 || real[rl] != '/') {
        gw_error(resp, 404, 5, "not found");
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        gw_error(resp, 404, 5, "not found");
        return;
    }
    resp->status = 200;
    resp->fd = fd;
    resp->fd_size = (size_t)st.st_size;
    resp->content_type = content_type(real);
    resp->no_store = 0;
}

char *gw_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}
