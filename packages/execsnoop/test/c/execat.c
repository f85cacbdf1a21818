/* execat MARKER MISSING: four children, each calling execveat() directly:
 *   1. execveat(AT_FDCWD, "/bin/true", ...)
 *   2. execveat(fd of open("/bin/echo", O_PATH), "", ..., AT_EMPTY_PATH) (fexecve)
 *   3. execveat(AT_FDCWD, MISSING, ...), which fails with ENOENT
 *   4. the same, but with argv strings that are string literals: in a forked
 *      child their .rodata page is not mapped yet, and a failed exec never
 *      faults it in, so no BPF program can read them
 * Prints "PID1 PID2 PID3 PID4 FD" when all have exited. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;

static pid_t child(int dirfd, const char *path, char *const argv[], int flags)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		syscall(SYS_execveat, dirfd, path, argv, environ, flags);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	return pid;
}

int main(int argc, char **argv)
{
	int fd = open("/bin/echo", O_PATH);
	char *a1[] = {"true", "fdcwd", argv[1], NULL};
	char *a2[] = {"echo", "empty path", argv[1], NULL};
	char s0[] = "missing", s1[] = "failing"; /* on the stack: resident */
	char *a3[] = {s0, s1, argv[1], NULL};
	char *a4[] = {"literal", "not resident", NULL};
	pid_t p1, p2, p3, p4;

	if (argc != 3 || fd < 0)
		return 2;
	p1 = child(AT_FDCWD, "/bin/true", a1, 0);
	p2 = child(fd, "", a2, AT_EMPTY_PATH);
	p3 = child(AT_FDCWD, argv[2], a3, 0);
	p4 = child(AT_FDCWD, argv[2], a4, 0);
	printf("%d %d %d %d %d\n", p1, p2, p3, p4, fd);
	return 0;
}
