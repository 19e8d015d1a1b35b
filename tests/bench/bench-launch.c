/* bench-launch.c — time from exec of `hangar` to an interactive manager
 * window: the app, started with HANGAR_BENCH_LAUNCH=1, prints the
 * CLOCK_MONOTONIC time of its first painted frame; this program takes its
 * own reading just before the spawn. Median of N runs, under a private
 * Xvfb and session bus, on a library of a few VMs. Target: under 300 ms.
 *
 * usage: bench-launch --app PATH --schemas DIR [--runs N]
 * Not pass/fail: it fails only when the window never appears. It prints
 * the app's CPU time too: on a machine shared with other work the wall
 * time waits for the CPU, the CPU time does not.
 */
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "library.h"

#define TARGET_MS 300.0
#define FRAME_TAG "hangar-first-frame-ns "

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Starts Xvfb on a free display (it writes the number to -displayfd). */
static GPid start_xvfb(char **display)
{
    int fds[2];
    GPid pid;
    g_autoptr(GError) error = NULL;

    if (pipe(fds) < 0)
        return 0;
    g_autofree char *fd_arg = g_strdup_printf("%d", fds[1]);
    const char *argv[] = { "Xvfb", "-displayfd", fd_arg, "-screen", "0", "1280x800x24",
                           "-nolisten", "tcp", NULL };
    GSpawnFlags flags = G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                        G_SPAWN_LEAVE_DESCRIPTORS_OPEN | G_SPAWN_STDOUT_TO_DEV_NULL |
                        G_SPAWN_STDERR_TO_DEV_NULL;
    if (!g_spawn_async(NULL, (char **)argv, NULL, flags, NULL, NULL, &pid, &error)) {
        fprintf(stderr, "bench-launch: cannot start Xvfb: %s (apt-get install xvfb)\n",
                error->message);
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    close(fds[1]);
    char buf[32] = { 0 };
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    if (n <= 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return 0;
    }
    *display = g_strdup_printf(":%d", atoi(buf));
    return pid;
}

/* A library of five VMs of different kinds, so the list has rows to draw. */
static bool make_library(const char *root)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(HgrLibrary) lib = hgr_library_new(root, &error);
    static const struct { const char *name, *os_id, *os_name; } vms[] = {
        { "Debian", "debian12", "Debian 12" },
        { "Windows 11", "win11", "Microsoft Windows 11" },
        { "Fedora", "fedora40", "Fedora Linux 40" },
        { "Ubuntu", "ubuntu24.04", "Ubuntu 24.04 LTS" },
        { "Test", NULL, NULL },
    };

    for (guint i = 0; lib && i < G_N_ELEMENTS(vms); i++) {
        g_autoptr(HgrMachineConfig) c = hgr_machine_config_new();
        c->name = g_strdup(vms[i].name);
        c->os_id = g_strdup(vms[i].os_id);
        c->os_name = g_strdup(vms[i].os_name);
        hgr_machine_config_add_port_forward(c, false, (uint16_t)(2222 + i), 22);
        if (!hgr_library_create(lib, c, 0, &error))
            break;
    }
    if (error)
        fprintf(stderr, "bench-launch: cannot make the test library: %s\n", error->message);
    return lib && !error;
}

/* One launch: ms from spawn to the first frame, or a negative number;
 * *cpu_ms: the CPU time the app used until it was stopped right after. */
static double launch_once(const char *app, char **envp, double *cpu_ms)
{
    const char *argv[] = { app, NULL };
    g_autoptr(GError) error = NULL;
    GPid pid;
    int out_fd;
    double ms = -1;

    int64_t t0 = now_ns();
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                  NULL, &pid, NULL, &out_fd, NULL, &error)) {
        fprintf(stderr, "bench-launch: cannot start %s: %s\n", app, error->message);
        return -1;
    }
    g_autoptr(GInputStream) raw = g_unix_input_stream_new(out_fd, TRUE);
    g_autoptr(GDataInputStream) in = g_data_input_stream_new(raw);
    char *line;
    /* The app prints nothing else on stdout; EOF means it died first. */
    while ((line = g_data_input_stream_read_line(in, NULL, NULL, NULL))) {
        if (g_str_has_prefix(line, FRAME_TAG)) {
            int64_t t1 = g_ascii_strtoll(line + strlen(FRAME_TAG), NULL, 10);
            ms = (double)(t1 - t0) / 1e6;
            g_free(line);
            break;
        }
        g_free(line);
    }
    struct rusage ru = { 0 };
    kill(pid, SIGTERM);
    wait4(pid, NULL, 0, &ru);
    g_spawn_close_pid(pid);
    *cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
              (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    return ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* runs launches with envp (after one uncounted warm-up); prints each and
 * the medians. False when the window never appeared. */
static bool series(const char *label, const char *app, char **envp, int runs)
{
    g_autofree double *ms = g_new0(double, runs);
    g_autofree double *cpu = g_new0(double, runs);
    int ok = 0;

    printf("== %s\n", label);
    /* Run 0 warms the page cache and fontconfig's; shown, not counted. */
    for (int i = 0; i <= runs; i++) {
        double c = 0, t = launch_once(app, envp, &c);
        if (t < 0) {
            fprintf(stderr, "bench-launch: run %d: the window never painted a frame\n", i);
            return false;
        }
        printf("run %2d: %7.1f ms, %7.1f ms CPU%s\n", i, t, c, i == 0 ? " (warm-up, not counted)" : "");
        if (i > 0) {
            ms[ok] = t;
            cpu[ok++] = c;
        }
    }
    double m = median(ms, ok);
    printf("launch to first frame of the manager window (5 VMs, Xvfb, %s): median %.1f ms "
           "of %d runs (min %.1f, max %.1f), median CPU %.1f ms; target < %.0f ms: %s\n",
           label, m, ok, ms[0], ms[ok - 1], median(cpu, ok), TARGET_MS,
           m < TARGET_MS ? "met" : "NOT met");
    return true;
}

int main(int argc, char **argv)
{
    g_autofree char *app = NULL, *schemas = NULL;
    int runs = 11;
    GOptionEntry entries[] = {
        { "app", 0, 0, G_OPTION_ARG_FILENAME, &app, "the hangar executable", "PATH" },
        { "schemas", 0, 0, G_OPTION_ARG_FILENAME, &schemas, "compiled GSettings schemas", "DIR" },
        { "runs", 0, 0, G_OPTION_ARG_INT, &runs, "launches to time (default 11)", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- time hangar's launch");
    g_autoptr(GError) error = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error) || !app || runs < 1) {
        fprintf(stderr, "usage: bench-launch --app PATH [--schemas DIR] [--runs N]\n");
        return 2;
    }

    g_autofree char *tmp = g_dir_make_tmp("hangar-bench-launch-XXXXXX", &error);
    g_autofree char *lib_dir = g_build_filename(tmp, "machines", NULL);
    g_autofree char *runtime = g_build_filename(tmp, "run", NULL);
    g_mkdir_with_parents(runtime, 0700);
    if (!make_library(lib_dir))
        return 1;

    g_autofree char *display = NULL;
    GPid xvfb = start_xvfb(&display);
    if (!xvfb)
        return 1;
    /* A private session bus, as a desktop session has one. */
    g_autoptr(GTestDBus) bus = g_test_dbus_new(G_TEST_DBUS_NONE);
    /* With the system's services, so GTK finds the accessibility bus. */
    g_test_dbus_add_service_dir(bus, "/usr/share/dbus-1/services");
    g_test_dbus_up(bus);

    char **envp = g_get_environ();
    envp = g_environ_setenv(envp, "DISPLAY", display, TRUE);
    envp = g_environ_unsetenv(envp, "WAYLAND_DISPLAY");
    envp = g_environ_setenv(envp, "DBUS_SESSION_BUS_ADDRESS", g_test_dbus_get_bus_address(bus), TRUE);
    envp = g_environ_setenv(envp, "HANGAR_LIBRARY_DIR", lib_dir, TRUE);
    envp = g_environ_setenv(envp, "HANGAR_BENCH_LAUNCH", "1", TRUE);
    envp = g_environ_setenv(envp, "XDG_RUNTIME_DIR", runtime, TRUE);
    envp = g_environ_setenv(envp, "GSETTINGS_BACKEND", "memory", TRUE);
    if (schemas)
        envp = g_environ_setenv(envp, "GSETTINGS_SCHEMA_DIR", schemas, TRUE);

    /* GTK's default renderer is GL; on Xvfb that is Mesa's software
     * rasterizer (llvmpipe), which a desktop with a GPU does not pay for.
     * The cairo renderer shows the cost without it. */
    int status = 0;
    if (!series("default renderer (GL: llvmpipe here)", app, envp, runs))
        status = 1;
    char **cairo_env = g_environ_setenv(g_strdupv(envp), "GSK_RENDERER", "cairo", TRUE);
    if (!status && !series("GSK_RENDERER=cairo", app, cairo_env, runs))
        status = 1;
    g_strfreev(cairo_env);

    g_strfreev(envp);
    g_test_dbus_down(bus);
    kill(xvfb, SIGTERM);
    waitpid(xvfb, NULL, 0);
    g_autofree char *rm = g_strdup_printf("rm -rf '%s'", tmp);
    if (system(rm) != 0)
        fprintf(stderr, "bench-launch: could not remove %s\n", tmp);
    return status;
}
