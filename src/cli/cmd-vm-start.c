/* hangarctl start NAME — run a machine headless in this process until it
 * stops (or in the background with --detach). While it runs, other
 * processes see and drive it through its control socket. */
#include <fcntl.h>
#include <glib-unix.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd-vm.h"
#include "hangarctl.h"

static const char start_description[] =
    "The machine runs without a window; its serial port is logged to\n"
    "logs/serial.log in its folder. Stop it with 'hangarctl stop NAME' (the power\n"
    "button) or 'hangarctl stop --force NAME', or Ctrl-C here (pulls the plug).\n"
    "\n"
    "Exit status: 0 when the machine stopped, 1 when it could not start or failed.";

static gboolean on_signal(gpointer data)
{
    HgrMachine *m = data;
    g_autoptr(GError) error = NULL;

    if (hgr_machine_is_running_here(m) && !hgr_machine_force_off(m, &error))
        g_printerr("hangarctl start: %s\n", error->message);
    return G_SOURCE_CONTINUE;
}

/* Runs the machine; detached: report_fd is where errors go until it runs,
 * closed (by moving stderr to /dev/null) once it does. */
static int run(const char *dir, const char *name, bool detached)
{
    g_autoptr(HgrLibrary) lib = NULL;
    g_autoptr(GError) error = NULL;

    HgrMachine *m = hgr_cli_find_machine("start", dir, name, &lib);
    if (!m)
        return 1;
    guint sources[] = {
        g_unix_signal_add(SIGINT, on_signal, m),
        g_unix_signal_add(SIGTERM, on_signal, m),
        g_unix_signal_add(SIGHUP, on_signal, m),
    };
    if (!hgr_machine_start(m, NULL, &error))
        return hgr_cli_fail("start", error);
    if (detached) {
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        dup2(devnull, STDERR_FILENO);  /* the parent sees the pipe close: started */
        close(devnull);
    } else {
        g_autofree char *log = g_build_filename(hgr_machine_get_dir(m), "logs", "serial.log",
                                                NULL);
        fprintf(stderr, "Running \"%s\" (serial log: %s). Stop it with: hangarctl stop "
                "\"%s\", or Ctrl-C\n", hgr_machine_get_name(m), log, hgr_machine_get_name(m));
    }
    HgrMachineState end = hgr_machine_run_until_stopped(m);
    for (size_t i = 0; i < G_N_ELEMENTS(sources); i++)
        g_source_remove(sources[i]);
    if (end == HGR_MACHINE_FAILED) {
        fprintf(stderr, "hangarctl start: \"%s\" failed: %s\n", hgr_machine_get_name(m),
                hgr_machine_get_failure(m));
        return 1;
    }
    return 0;
}

/* The child runs the machine; the parent waits until it runs or fails. */
static int detach(const char *dir, const char *name)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("hangarctl start: pipe");
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("hangarctl start: fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        setsid();
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(devnull);
        close(p[1]);
        _exit(run(dir, name, true));
    }
    close(p[1]);
    g_autoptr(GString) out = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    while ((n = read(p[0], buf, sizeof(buf))) != 0) {
        if (n > 0)
            g_string_append_len(out, buf, n);
        else if (errno != EINTR)
            break;
    }
    close(p[0]);
    if (out->len) {
        fputs(out->str, stderr);
        waitpid(pid, NULL, 0);
        return 1;
    }
    printf("Started \"%s\" in the background (process %d)\n", name, (int)pid);
    return 0;
}

int hgr_cmd_start(int argc, char **argv)
{
    g_autofree char *dir = NULL;
    gboolean detached = FALSE;
    GOptionEntry entries[] = {
        HGR_CLI_LIBRARY_OPTION(&dir),
        { "detach", 'd', 0, G_OPTION_ARG_NONE, &detached,
          "Run in the background; return once it runs", NULL },
        { NULL },
    };

    if (!hgr_cli_parse("start", "NAME", start_description, entries, &argc, &argv, 1, 1))
        return 2;
    return detached ? detach(dir, argv[1]) : run(dir, argv[1], false);
}
