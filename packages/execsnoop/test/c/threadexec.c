/* threadexec ARG...: a second thread calls execve("/bin/echo", ["echo", ARG...])
 * while the main thread waits; the kernel then gives the exec'ing thread the
 * process's PID. */
#include <pthread.h>
#include <unistd.h>
extern char **environ;
static char **args;

static void *run(void *unused)
{
	(void)unused;
	execve("/bin/echo", args, environ);
	_exit(127);
}

int main(int argc, char **argv)
{
	pthread_t t;

	(void)argc;
	argv[0] = "echo";
	args = argv;
	if (pthread_create(&t, NULL, run, NULL))
		return 2;
	for (;;)
		pause();
}
