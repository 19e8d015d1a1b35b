/* serial-relay.c — one thread between the VM's serial socket, the log and
 * the caller's fd. vmm-core takes one fd for its serial port and closes it;
 * the caller's fd stays the caller's, so a socket pair stands between. */
#include "serial-relay.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine-config.h"

/* A guest printing forever must not fill the user's disk. */
#define LOG_MAX_BYTES (64u << 20)

struct HgrSerialRelay {
    int relay_fd;                 /* our end of the pair */
    int user_fd;
    int log_fd;
    uint64_t logged;
    int stop_rd, stop_wr;
    GThread *thread;
    int vm_fd;                    /* the end given to vmm-core */
    dev_t vm_dev;
    ino_t vm_ino;
};

/* Sockets are written with MSG_NOSIGNAL: a console that went away must not
 * take the process down with SIGPIPE. */
static ssize_t write_some(int fd, const char *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

    if (n < 0 && errno == ENOTSOCK)
        n = write(fd, buf, len);
    return n;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write_some(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            /* A console nobody reads must not stall the guest forever. */
            if (poll(&p, 1, 1000) <= 0)
                return;
            continue;
        }
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Guest output: false at the end of it. */
static bool copy_out(HgrSerialRelay *r)
{
    char buf[4096];
    ssize_t n = read(r->relay_fd, buf, sizeof(buf));

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0)
        return false;
    if (r->logged < LOG_MAX_BYTES) {
        size_t room = LOG_MAX_BYTES - r->logged;
        write_all(r->log_fd, buf, MIN((size_t)n, room));
        r->logged += MIN((size_t)n, room);
        if (r->logged >= LOG_MAX_BYTES) {
            static const char note[] = "\n[Hangar: serial log full, the rest is not kept]\n";
            write_all(r->log_fd, note, sizeof(note) - 1);
        }
    }
    if (r->user_fd >= 0)
        write_all(r->user_fd, buf, (size_t)n);
    return true;
}

static gpointer relay_thread(gpointer data)
{
    HgrSerialRelay *r = data;

    for (;;) {
        struct pollfd p[3] = {
            { .fd = r->relay_fd, .events = POLLIN },
            { .fd = r->stop_rd, .events = POLLIN },
            { .fd = r->user_fd, .events = POLLIN },
        };
        if (poll(p, r->user_fd >= 0 ? 3 : 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents && !copy_out(r))
            break;
        if (p[1].revents) {
            /* Stopping: copy what is queued now, never wait for more. */
            for (;;) {
                struct pollfd q = { .fd = r->relay_fd, .events = POLLIN };
                if (poll(&q, 1, 0) <= 0 || !copy_out(r))
                    break;
            }
            break;
        }
        if (r->user_fd >= 0 && p[2].revents) {
            char buf[1024];
            ssize_t n = read(r->user_fd, buf, sizeof(buf));
            if (n > 0)
                write_all(r->relay_fd, buf, (size_t)n);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                r->user_fd = -1;      /* the console went away; the log goes on */
        }
    }
    return NULL;
}

HgrSerialRelay *hgr_serial_relay_new(int user_fd, const char *log_path, int *vm_fd,
                                     GError **error)
{
    int pair[2], stop[2];
    struct stat st;

    /* Runs append; a log grown past the limit starts over (the last one
     * kept as .old). */
    if (stat(log_path, &st) == 0 && (uint64_t)st.st_size >= LOG_MAX_BYTES) {
        g_autofree char *old = g_strconcat(log_path, ".old", NULL);
        rename(log_path, old);
    }
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (log_fd < 0) {
        int e = errno;
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot write the serial log %s: %s"), log_path, g_strerror(e));
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0
        || fcntl(pair[0], F_SETFL, O_NONBLOCK) != 0) {
        int e = errno;
        close(log_fd);
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot connect the serial port: %s"), g_strerror(e));
        return NULL;
    }
    if (pipe2(stop, O_CLOEXEC) != 0) {
        int e = errno;
        close(log_fd);
        close(pair[0]);
        close(pair[1]);
        g_set_error(error, HGR_LIBRARY_ERROR, HGR_LIBRARY_ERROR_IO,
                    _("Cannot connect the serial port: %s"), g_strerror(e));
        return NULL;
    }
    HgrSerialRelay *r = g_new0(HgrSerialRelay, 1);
    r->relay_fd = pair[0];
    r->user_fd = user_fd;
    r->log_fd = log_fd;
    r->stop_rd = stop[0];
    r->stop_wr = stop[1];
    r->thread = g_thread_new("hgr-serial", relay_thread, r);
    r->vm_fd = pair[1];
    if (fstat(pair[1], &st) == 0) {
        r->vm_dev = st.st_dev;
        r->vm_ino = st.st_ino;
    }
    *vm_fd = pair[1];
    return r;
}

void hgr_serial_relay_reclaim_vm_fd(HgrSerialRelay *r)
{
    struct stat st;

    /* Still our socket (not a number since reused for another file)? */
    if (fstat(r->vm_fd, &st) == 0 && st.st_dev == r->vm_dev && st.st_ino == r->vm_ino)
        close(r->vm_fd);
}

void hgr_serial_relay_free(HgrSerialRelay *r)
{
    if (!r)
        return;
    write_all(r->stop_wr, "x", 1);
    g_thread_join(r->thread);
    close(r->relay_fd);
    close(r->log_fd);
    close(r->stop_rd);
    close(r->stop_wr);
    g_free(r);
}
