/* chardev.c — byte-stream backends: null, stdio, file, fd.
 *
 * Output is queued under a lock and written by the I/O thread (kept queued
 * until there is one, and while the fd is full), so a vCPU writing a UART
 * never blocks on a slow terminal. Input is read on the I/O thread into a
 * small buffer and handed to the device only as fast as it has room.
 */
#include "chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define OUT_LIMIT (1u << 20)
#define CTRL_A 0x01

struct HgrChardev {
    int in_fd, out_fd;
    bool owns_fds;
    bool raw_tty;
    struct termios saved_tty;
    bool escape;                  /* previous byte was Ctrl-A (stdio) */
    void (*quit_fn)(void *opaque);
    void *quit_opaque;

    GMutex lock;
    GByteArray *out;
    uint64_t dropped;
    HgrIoThread *thread;
    int wake_fd;                  /* eventfd-like pipe: output queued / room for input */
    int wake_rd;
    guint wake_id, in_id, out_id;

    uint8_t in_buf[256];
    size_t in_len, in_pos;
    bool in_eof;
    HgrChardevCanReceive can;
    HgrChardevReceive recv;
    void *opaque;
};

static HgrChardev *chardev_new(int in_fd, int out_fd, bool owns)
{
    HgrChardev *c = g_new0(HgrChardev, 1);
    int p[2];

    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->owns_fds = owns;
    g_mutex_init(&c->lock);
    c->out = g_byte_array_new();
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
        c->wake_rd = p[0];
        c->wake_fd = p[1];
    } else {
        c->wake_rd = c->wake_fd = -1;
    }
    return c;
}

HgrChardev *hgr_chardev_new_null(void)
{
    return chardev_new(-1, -1, false);
}

HgrChardev *hgr_chardev_new_stdio(void (*quit_fn)(void *opaque), void *quit_opaque)
{
    HgrChardev *c = chardev_new(STDIN_FILENO, STDOUT_FILENO, false);

    c->quit_fn = quit_fn;
    c->quit_opaque = quit_opaque;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved_tty) == 0) {
        struct termios raw = c->saved_tty;
        cfmakeraw(&raw);
        raw.c_oflag |= OPOST;         /* keep \n -> \r\n for the host terminal */
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
            c->raw_tty = true;
    }
    return c;
}

HgrChardev *hgr_chardev_new_file(const char *path, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0) {
        int e = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(e),
                    "cannot write serial output to %s: %s", path, g_strerror(e));
        return NULL;
    }
    return chardev_new(-1, fd, true);
}

HgrChardev *hgr_chardev_new_fd(int fd)
{
    return chardev_new(fd, fd, true);
}

#define FLUSH_PATIENCE_US G_USEC_PER_SEC

static void drop_queued(HgrChardev *c)
{
    c->dropped += c->out->len;
    g_byte_array_set_size(c->out, 0);
}

/* Writes what can be written now. Returns true when the rest must wait for
 * the fd to take more; blocking waits instead, but not for a reader that
 * stays stuck (a shutdown must not hang on a terminal nobody reads). */
static bool flush_locked(HgrChardev *c, bool blocking)
{
    gint64 deadline = 0;

    while (c->out->len > 0 && c->out_fd >= 0) {
        ssize_t n = write(c->out_fd, c->out->data, c->out->len);
        if (n > 0) {
            g_byte_array_remove_range(c->out, 0, (guint)n);
            deadline = 0;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n == 0 || errno == EAGAIN) {
            if (!blocking)
                return true;
            gint64 now = g_get_monotonic_time();
            if (!deadline)
                deadline = now + FLUSH_PATIENCE_US;
            if (now > deadline)
                drop_queued(c);
            else
                g_usleep(1000);
        } else {
            /* The reader went away or the disk is full: drop, do not stall. */
            drop_queued(c);
        }
    }
    if (c->out_fd < 0)
        g_byte_array_set_size(c->out, 0);
    return false;
}

static gboolean on_writable(gint fd, GIOCondition cond, gpointer data)
{
    HgrChardev *c = data;
    gboolean again;

    g_mutex_lock(&c->lock);
    again = flush_locked(c, false);
    if (!again)
        c->out_id = 0;
    g_mutex_unlock(&c->lock);
    return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void deliver_input(HgrChardev *c)
{
    while (c->in_pos < c->in_len && c->recv) {
        size_t room = c->can ? c->can(c->opaque) : c->in_len - c->in_pos;
        if (room == 0)
            return;
        size_t n = MIN(room, c->in_len - c->in_pos);
        c->recv(c->opaque, c->in_buf + c->in_pos, n);
        c->in_pos += n;
    }
}

static gboolean on_input(gint fd, GIOCondition cond, gpointer data);

static void watch_input(HgrChardev *c)
{
    if (c->thread && c->in_fd >= 0 && !c->in_eof && !c->in_id)
        c->in_id = hgr_iothread_add_fd(c->thread, c->in_fd, G_IO_IN | G_IO_HUP, on_input, c);
}

/* Strips the Ctrl-A escape of a terminal: Ctrl-A x quits, Ctrl-A Ctrl-A sends one. */
static size_t filter_escape(HgrChardev *c, uint8_t *buf, size_t n)
{
    size_t out = 0;

    for (size_t i = 0; i < n; i++) {
        uint8_t b = buf[i];
        if (c->escape) {
            c->escape = false;
            if ((b == 'x' || b == 'X') && c->quit_fn) {
                c->quit_fn(c->quit_opaque);
                continue;
            }
            if (b != CTRL_A)
                continue;
        } else if (b == CTRL_A) {
            c->escape = true;
            continue;
        }
        buf[out++] = b;
    }
    return out;
}

static gboolean on_input(gint fd, GIOCondition cond, gpointer data)
{
    HgrChardev *c = data;

    if (c->in_pos < c->in_len) {
        /* The device is full: stop watching until it asks for more. */
        c->in_id = 0;
        return G_SOURCE_REMOVE;
    }
    ssize_t n = read(fd, c->in_buf, sizeof(c->in_buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        c->in_eof = true;
        c->in_id = 0;
        return G_SOURCE_REMOVE;
    }
    c->in_len = c->raw_tty ? filter_escape(c, c->in_buf, (size_t)n) : (size_t)n;
    c->in_pos = 0;
    deliver_input(c);
    if (c->in_pos < c->in_len) {
        c->in_id = 0;
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean on_wake(gint fd, GIOCondition cond, gpointer data)
{
    HgrChardev *c = data;
    char drain[64];

    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    g_mutex_lock(&c->lock);
    /* A full fd is waited on, not given up on: the bytes stay queued. */
    if (flush_locked(c, false) && !c->out_id)
        c->out_id = hgr_iothread_add_fd(c->thread, c->out_fd, G_IO_OUT | G_IO_ERR, on_writable, c);
    g_mutex_unlock(&c->lock);
    deliver_input(c);
    watch_input(c);
    return G_SOURCE_CONTINUE;
}

void hgr_chardev_attach(HgrChardev *c, HgrIoThread *t)
{
    c->thread = t;
    if (c->out_fd >= 0 && c->out_fd != STDOUT_FILENO)
        g_unix_set_fd_nonblocking(c->out_fd, TRUE, NULL);
    if (c->wake_rd >= 0)
        c->wake_id = hgr_iothread_add_fd(t, c->wake_rd, G_IO_IN, on_wake, c);
    watch_input(c);
    if (c->wake_fd >= 0)
        (void)!write(c->wake_fd, "", 1);
}

void hgr_chardev_set_receiver(HgrChardev *c, HgrChardevCanReceive can, HgrChardevReceive recv,
                              void *opaque)
{
    c->can = can;
    c->recv = recv;
    c->opaque = opaque;
}

static void wake(HgrChardev *c)
{
    if (c->wake_fd >= 0)
        (void)!write(c->wake_fd, "", 1);   /* a full pipe already means "wake up" */
}

void hgr_chardev_accept_input(HgrChardev *c)
{
    if (c->thread)
        wake(c);
}

void hgr_chardev_write(HgrChardev *c, const void *buf, size_t len)
{
    if (c->out_fd < 0)
        return;
    g_mutex_lock(&c->lock);
    /* Only the first byte into an empty queue wakes the I/O thread: it
     * writes out everything queued by then, so a vCPU printing a line costs
     * one wake-up, not one system call per byte. */
    bool was_empty = c->out->len == 0;
    if (c->out->len + len > OUT_LIMIT) {
        c->dropped += len;
    } else {
        g_byte_array_append(c->out, buf, (guint)len);
    }
    g_mutex_unlock(&c->lock);
    if (c->thread && was_empty)
        wake(c);
}

void hgr_chardev_flush(HgrChardev *c)
{
    g_mutex_lock(&c->lock);
    flush_locked(c, true);
    g_mutex_unlock(&c->lock);
}

/* Runs on the I/O thread, so none of these callbacks is half-way through. */
static gboolean detach(gpointer data)
{
    HgrChardev *c = data;
    guint *ids[] = { &c->wake_id, &c->in_id, &c->out_id };

    for (unsigned i = 0; i < G_N_ELEMENTS(ids); i++) {
        if (*ids[i])
            hgr_iothread_remove(c->thread, *ids[i]);
        *ids[i] = 0;
    }
    return G_SOURCE_REMOVE;
}

void hgr_chardev_free(HgrChardev *c)
{
    if (!c)
        return;
    if (c->thread)
        hgr_iothread_call(c->thread, detach, c);
    hgr_chardev_flush(c);
    if (c->raw_tty)
        tcsetattr(STDIN_FILENO, TCSANOW, &c->saved_tty);
    if (c->dropped)
        g_warning("serial output: %" G_GUINT64_FORMAT " bytes dropped (reader too slow)",
                  c->dropped);
    if (c->owns_fds) {
        if (c->in_fd >= 0)
            close(c->in_fd);
        if (c->out_fd >= 0 && c->out_fd != c->in_fd)
            close(c->out_fd);
    }
    if (c->wake_rd >= 0)
        close(c->wake_rd);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    g_byte_array_unref(c->out);
    g_mutex_clear(&c->lock);
    g_free(c);
}
