// The runqlat tests' workload: threads that wait on a run queue, made on
// demand. It prints "ready", then for each line on stdin runs one command
// and answers "done TID1 TID2" (the two threads it made for the command, in
// the order named below):
//
//   pingpong N   two new threads, "rq-ping" and "rq-pong", pass a byte to
//                each other through two pipes N times: every pass wakes the
//                other thread, which then waits on a run queue.
//   delay N MS   a new SCHED_FIFO thread "rq-hog" and a new normal thread
//                "rq-woken", both pinned to the first allowed CPU: N times the
//                hog wakes the other one, then spins MS milliseconds before
//                blocking. A real-time thread is never preempted by a normal
//                one, so each of those N waits lasts at least MS ms.
//
// The threads of a command then block for good (reading a pipe nobody
// writes), so that their context-switch counts stop moving and the test can
// compare them with runqlat's. It exits when stdin closes.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int park[2]; /* never written: threads that are done block on it */

struct pair {
	int to_a[2], to_b[2], done[2];
	pthread_barrier_t go; /* both threads set up (pinned, real-time) before the first pass */
	int n;
	long ms;
	int cpu;
	int tids[2]; /* the first thread's, the second's */
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void xread(int fd)
{
	char c;
	if (read(fd, &c, 1) != 1)
		die("read");
}

static void xwrite(int fd)
{
	if (write(fd, "x", 1) != 1)
		die("write");
}

/* Reports this thread's TID (its `role`, 0 or 1), then blocks forever. */
static void finish(struct pair *p, int role)
{
	p->tids[role] = (int)syscall(SYS_gettid);
	xwrite(p->done[1]);
	char c;
	for (;;)
		if (read(park[0], &c, 1) <= 0)
			pause();
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

static void spin_ms(long ms)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < ms * 1000000L);
}

static void *ping(void *arg)
{
	struct pair *p = arg;
	pthread_barrier_wait(&p->go);
	for (int i = 0; i < p->n; i++) {
		xwrite(p->to_b[1]);
		xread(p->to_a[0]);
	}
	finish(p, 0);
	return NULL;
}

static void *pong(void *arg)
{
	struct pair *p = arg;
	pthread_barrier_wait(&p->go);
	for (int i = 0; i < p->n; i++) {
		xread(p->to_b[0]);
		xwrite(p->to_a[1]);
	}
	finish(p, 1);
	return NULL;
}

static void *hog(void *arg)
{
	struct pair *p = arg;
	struct sched_param sp = { .sched_priority = 1 };
	pin(p->cpu);
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		die("sched_setscheduler");
	pthread_barrier_wait(&p->go);
	/* Each pass: rq-woken is queued on this CPU (woken by the write, or
	 * preempted by us when its last write woke us) for the whole spin. */
	for (int i = 0; i < p->n; i++) {
		xwrite(p->to_b[1]);
		spin_ms(p->ms);
		xread(p->to_a[0]); /* blocks: now rq-woken runs */
	}
	finish(p, 0);
	return NULL;
}

static void *woken(void *arg)
{
	struct pair *p = arg;
	pin(p->cpu);
	pthread_barrier_wait(&p->go);
	for (int i = 0; i < p->n; i++) {
		xread(p->to_b[0]);
		xwrite(p->to_a[1]);
	}
	finish(p, 1);
	return NULL;
}

static void run(struct pair *p, void *(*a)(void *), const char *na, void *(*b)(void *), const char *nb)
{
	pthread_t ta, tb;

	if (pipe(p->to_a) || pipe(p->to_b) || pipe(p->done))
		die("pipe");
	if (pthread_barrier_init(&p->go, NULL, 2))
		die("pthread_barrier_init");
	if (pthread_create(&ta, NULL, a, p) || pthread_create(&tb, NULL, b, p))
		die("pthread_create");
	pthread_setname_np(ta, na);
	pthread_setname_np(tb, nb);
	xread(p->done[0]);
	xread(p->done[0]);
	printf("done %d %d\n", p->tids[0], p->tids[1]);
	fflush(stdout);
}

int main(void)
{
	char line[128];
	cpu_set_t allowed;

	if (pipe(park))
		die("pipe");
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity");
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct pair *p = calloc(1, sizeof(*p)); /* its threads keep it */
		if (!p)
			die("calloc");
		if (sscanf(line, "pingpong %d", &p->n) == 1) {
			run(p, ping, "rq-ping", pong, "rq-pong");
		} else if (sscanf(line, "delay %d %ld", &p->n, &p->ms) == 2) {
			while (!CPU_ISSET(p->cpu, &allowed))
				p->cpu++;
			run(p, hog, "rq-hog", woken, "rq-woken");
		} else {
			fprintf(stderr, "rqwork: unknown command: %s", line);
			return 2;
		}
	}
	return 0;
}
