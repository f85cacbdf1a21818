// A worker thread execs "/bin/sh -c 'exit 5'" while the main thread sleeps:
// exec kills every other thread (the old main thread among them) and the
// worker takes over the process ID. The process has not ended then; it ends
// when sh exits with 5.
#include <pthread.h>
#include <unistd.h>

static void *worker(void *arg)
{
	(void)arg;
	usleep(50 * 1000);
	execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
	_exit(127);
}

int main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	for (;;)
		pause();
}
