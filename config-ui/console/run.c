/* Running a program for the console: fork + execve with a fixed argument
 * list and a fixed environment, never a shell, its output on the console. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "console.h"

int con_run(const char *path, char *const argv[], char *const envp[])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        printf("Cannot start %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGTSTP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        dup2(1, 2);
        execve(path, argv, envp);
        printf("Cannot start %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    /* Ctrl-C reaches the child too (same process group); the console waits
     * for it to end and then goes back to the menu */
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}
