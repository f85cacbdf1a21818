// The sigsnoop tests' workload: every way a signal is sent, each step in a
// known order, printing the PIDs involved so the test can check exact rows.
//
//   sigwork all      every step below
//   sigwork burst N  kill(child, SIGUSR1) N times as fast as it can (a storm)
//
// `all` prints its PIDs, then waits for a byte on stdin before it starts, so
// a test can set filters on those PIDs. Children name themselves
// "sigwork-child-of" (prctl), which the kernel cuts to 15 bytes,
// "sigwork-child-o", so a comm filter can tell them apart from this process. Children that handle a signal acknowledge each
// one through a pipe, so no two signals are ever pending at once unless a
// step wants that.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

static int ack_fd = -1;

static void ack(int sig)
{
	unsigned char c = (unsigned char)sig;

	if (write(ack_fd, &c, 1) < 0)
		_exit(3);
}

static void quiet(int sig)
{
	(void)sig;
}

enum { HANDLE = 1, IGNORE_USR1 = 2, BLOCK_USR2 = 4, SEGV = 8, OWN_PGRP = 16 };

struct child {
	pid_t pid;
	int ack; /* read end: one byte per signal handled */
};

static struct child spawn(int how)
{
	int ready[2], acks[2];
	struct child c;
	char b;

	if (pipe(ready) || pipe(acks))
		exit(2);
	c.pid = fork();
	if (c.pid < 0)
		exit(2);
	if (c.pid == 0) {
		struct sigaction sa;
		int s;

		prctl(PR_SET_NAME, "sigwork-child-of");
		close(ready[0]);
		close(acks[0]);
		ack_fd = acks[1];
		if (how & OWN_PGRP)
			setpgid(0, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = ack;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (how & HANDLE) {
			sigaction(SIGUSR1, &sa, NULL);
			sigaction(SIGUSR2, &sa, NULL);
			for (s = SIGRTMIN; s <= SIGRTMAX; s++)
				sigaction(s, &sa, NULL);
		}
		if (how & IGNORE_USR1)
			signal(SIGUSR1, SIG_IGN);
		if (how & BLOCK_USR2) {
			sigset_t set;

			sigemptyset(&set);
			sigaddset(&set, SIGUSR2);
			sigprocmask(SIG_BLOCK, &set, NULL);
		}
		if (how & SEGV) {
			struct rlimit no_core = { 0, 0 };

			setrlimit(RLIMIT_CORE, &no_core); /* no core dump: die at once */
			if (write(ready[1], "r", 1) < 0)
				_exit(2);
			*(volatile int *)0 = 1;
		}
		if (write(ready[1], "r", 1) < 0)
			_exit(2);
		close(ready[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	close(acks[1]);
	if (read(ready[0], &b, 1) != 1)
		exit(2);
	close(ready[0]);
	c.ack = acks[0];
	return c;
}

/* Waits for the child to have handled one signal. */
static void wait_ack(struct child *c, int sig)
{
	unsigned char got;

	if (read(c->ack, &got, 1) != 1 || got != sig) {
		fprintf(stderr, "sigwork: no ack for signal %d\n", sig);
		exit(2);
	}
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static volatile pid_t thread_tid;

/* A second thread of this process, to be signalled by tgkill(). */
static void *sleeper(void *arg)
{
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	for (;;)
		pause();
	return NULL;
}

static void step(const char *name, long ret)
{
	printf("%s %ld\n", name, ret);
	fflush(stdout);
}

/* No acknowledgements: most kill()s find SIGUSR1 still pending. */
static int burst(int n)
{
	struct child a = spawn(HANDLE);
	int i;

	printf("pids %d %d\n", getpid(), a.pid);
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (kill(a.pid, SIGUSR1))
			return 2;
	kill(a.pid, SIGKILL);
	reap(a.pid);
	return 0;
}

int main(int argc, char **argv)
{
	struct child a, b, c, d, g1, g2;
	pid_t dead;
	pthread_t thread;
	struct sigaction sa;
	siginfo_t info;
	union sigval val;
	int pidfd;
	char go;

	if (argc >= 3 && !strcmp(argv[1], "burst"))
		return burst(atoi(argv[2]));
	if (argc < 2 || strcmp(argv[1], "all")) {
		fprintf(stderr, "usage: sigwork all | sigwork burst N\n");
		return 2;
	}

	/* This process handles SIGUSR1 for raise(); SIGCHLD stays at its
	 * default, which the kernel counts as ignoring it. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = quiet;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);

	a = spawn(HANDLE);
	b = spawn(IGNORE_USR1);
	c = spawn(HANDLE | BLOCK_USR2);
	g1 = spawn(HANDLE | OWN_PGRP);
	g2 = spawn(HANDLE);
	setpgid(g2.pid, g1.pid); /* g2 joins g1's process group */
	/* A PID that no longer exists (and below pid_max, so a filter may name
	 * it): a child reaped at once. PIDs are handed out in increasing order,
	 * so it comes back only after pid_max more have been. */
	dead = fork();
	if (dead < 0)
		return 2;
	if (dead == 0)
		_exit(0);
	reap(dead);
	printf("pids %d %d %d %d %d %d %d\n", getpid(), a.pid, b.pid, c.pid, g1.pid, g2.pid, dead);
	fflush(stdout);
	if (read(0, &go, 1) != 1)
		return 2;

	step("kill-delivered", kill(a.pid, SIGUSR1));
	wait_ack(&a, SIGUSR1);
	step("kill-ignored", kill(b.pid, SIGUSR1));
	step("kill-esrch", kill(dead, SIGTERM) ? -errno : 0);
	step("kill-probe", kill(a.pid, 0));
	step("tkill", syscall(SYS_tkill, a.pid, SIGUSR2));
	wait_ack(&a, SIGUSR2);
	step("tgkill", syscall(SYS_tgkill, a.pid, a.pid, SIGRTMIN + 1));
	wait_ack(&a, SIGRTMIN + 1);
	val.sival_int = 42;
	step("sigqueue", sigqueue(a.pid, SIGRTMIN + 2, val)); /* rt_sigqueueinfo */
	wait_ack(&a, SIGRTMIN + 2);
	memset(&info, 0, sizeof(info));
	info.si_signo = SIGRTMIN + 3;
	info.si_code = SI_QUEUE;
	info.si_pid = getpid();
	info.si_uid = getuid();
	step("rt_tgsigqueueinfo", syscall(SYS_rt_tgsigqueueinfo, a.pid, a.pid, SIGRTMIN + 3, &info));
	wait_ack(&a, SIGRTMIN + 3);
	pidfd = syscall(SYS_pidfd_open, a.pid, 0);
	step("pidfd_send_signal", syscall(SYS_pidfd_send_signal, pidfd, SIGUSR1, NULL, 0));
	wait_ack(&a, SIGUSR1);
	step("pidfd-ebadf", syscall(SYS_pidfd_send_signal, 0, SIGUSR1, NULL, 0) ? -errno : 0);
	step("pending-first", kill(c.pid, SIGUSR2));  /* blocked: stays pending */
	step("pending-second", kill(c.pid, SIGUSR2)); /* already pending */
	/* A thread-directed signal has its own pending set: tkill() queues a
	 * second SIGUSR2 there, and tgkill() then finds it already pending. The
	 * call still returns 0 (killsnoop's RESULT); only the delivery says 2. */
	step("pending-tkill", syscall(SYS_tkill, c.pid, SIGUSR2));
	step("pending-tgkill", syscall(SYS_tgkill, c.pid, c.pid, SIGUSR2));
	step("raise", raise(SIGUSR1));                /* tgkill to myself */
	if (pthread_create(&thread, NULL, sleeper, NULL))
		return 2;
	while (!thread_tid)
		usleep(1000);
	step("thread", thread_tid);
	step("tgkill-thread", syscall(SYS_tgkill, getpid(), thread_tid, SIGUSR1)); /* TPID: the thread */
	step("group", kill(-g1.pid, SIGUSR2));        /* two processes, one call */
	wait_ack(&g1, SIGUSR2);
	wait_ack(&g2, SIGUSR2);

	/* The kernel's own: SIGSEGV to d, then SIGCHLD from d to me. */
	d = spawn(SEGV);
	step("segv", d.pid);
	reap(d.pid);
	step("reaped", d.pid);

	kill(a.pid, SIGKILL);
	reap(a.pid);
	step("killed", a.pid);
	kill(b.pid, SIGKILL);
	kill(c.pid, SIGKILL);
	kill(g1.pid, SIGKILL);
	kill(g2.pid, SIGKILL);
	reap(b.pid);
	reap(c.pid);
	reap(g1.pid);
	reap(g2.pid);
	step("done", 0);
	return 0;
}
