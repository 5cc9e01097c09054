/*
 * pause: the process a pod sandbox runs (containerd's sandbox_image). It holds the pod's
 * namespaces open and does nothing else. Ours, because registry.k8s.io is unreachable here.
 *
 * As PID 1 of a pod that shares its PID namespace it also inherits orphans, so it reaps them;
 * SIGINT and SIGTERM end it with status 0 (the runtime stops the sandbox with SIGTERM/SIGKILL).
 *
 * Build: gcc -static -Os -s -o pause pause.c
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* write(2), not stdio: keeps the static binary small. */
static void say(int fd, const char *msg)
{
    ssize_t r = write(fd, msg, strlen(msg));
    (void)r;
}

static void on_stop(int sig)
{
    (void)sig;
    _exit(0);
}

static void on_child(int sig)
{
    (void)sig;
    /* Several children can exit before one SIGCHLD is handled: reap all that are done. */
    int saved = errno;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    errno = saved;
}

static int handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    /* SA_RESTART is not needed: pause() is the only call and returns on any handled signal. */
    sa.sa_flags = sig == SIGCHLD ? SA_NOCLDSTOP : 0;
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
        say(1, "pause (retrace) 3.10.1\n");
        return 0;
    }
    /* As PID 1, signals without a handler are ignored by the kernel, so each needs one. */
    if (handle(SIGINT, on_stop) || handle(SIGTERM, on_stop) || handle(SIGCHLD, on_child)) {
        say(2, "pause: sigaction failed\n");
        return 1;
    }
    if (getpid() != 1)
        say(2, "pause: warning: not running as PID 1\n");
    for (;;)
        pause();
}
