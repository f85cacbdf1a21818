// The main thread leaves with pthread_exit() while a worker keeps the process
// alive for 300 ms, then ends it with exit(7). Prints "<pid> <worker tid>".
// The process ends when the worker does: one process exit, status code 7.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

static pthread_barrier_t started;

static void *worker(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "mtexit-worker"); /* this thread's comm only */
	printf("%d %d\n", getpid(), gettid());
	fflush(stdout);
	pthread_barrier_wait(&started);
	usleep(300 * 1000);
	exit(7);
}

int main(void)
{
	pthread_t t;

	pthread_barrier_init(&started, NULL, 2);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_barrier_wait(&started);
	pthread_exit(NULL); /* the process lives on in the worker */
}
