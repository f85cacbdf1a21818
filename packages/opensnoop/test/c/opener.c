// opener: performs the open-family system calls its arguments describe, in
// order, and prints one line per call: "<name> <ret> <errno> <tid>".
// The raw syscalls are used (glibc's open() is really openat()).
//
//   open PATH FLAGS MODE              open(2); FLAGS and MODE in octal
//   openat DIRFD PATH FLAGS MODE      DIRFD: "cwd" (AT_FDCWD), "last" (the last fd opened) or a number
//   openat2 DIRFD PATH FLAGS MODE     openat2(2) with struct open_how
//   chdir PATH
//   comm NAME                         prctl(PR_SET_NAME)
//   thread                            the next call runs in a new thread
//   repeat N                          the next call runs N times
//   badptr                            open(2) with an invalid path pointer (EFAULT)
//
// A PATH of the form hex:HEX is decoded first, so a test can pass any bytes.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static long last_fd = -1;

struct call {
	char **argv;
	long ret;
	int err;
	pid_t tid;
	int used; /* arguments consumed */
};

static int dirfd_of(const char *s)
{
	if (!strcmp(s, "cwd"))
		return AT_FDCWD;
	if (!strcmp(s, "last"))
		return (int)last_fd;
	return atoi(s);
}

static char decoded[8192];

static const char *path_arg(const char *s)
{
	size_t n = 0;

	if (strncmp(s, "hex:", 4))
		return s;
	for (s += 4; s[0] && s[1] && n < sizeof(decoded) - 1; s += 2) {
		char byte[3] = { s[0], s[1], 0 };
		decoded[n++] = (char)strtol(byte, NULL, 16);
	}
	decoded[n] = 0;
	return decoded;
}

static void *run_call(void *p)
{
	struct call *c = p;
	char **a = c->argv;

	errno = 0;
	c->tid = (pid_t)syscall(SYS_gettid);
	if (!strcmp(a[0], "open")) {
		c->ret = syscall(SYS_open, path_arg(a[1]), strtol(a[2], NULL, 8), strtol(a[3], NULL, 8));
		c->used = 4;
	} else if (!strcmp(a[0], "openat")) {
		c->ret = syscall(SYS_openat, dirfd_of(a[1]), path_arg(a[2]), strtol(a[3], NULL, 8), strtol(a[4], NULL, 8));
		c->used = 5;
	} else if (!strcmp(a[0], "openat2")) {
		struct open_how how = { .flags = strtoull(a[3], NULL, 8), .mode = strtoull(a[4], NULL, 8) };
		c->ret = syscall(SYS_openat2, dirfd_of(a[1]), path_arg(a[2]), &how, sizeof(how));
		c->used = 5;
	} else if (!strcmp(a[0], "chdir")) {
		c->ret = chdir(a[1]);
		c->used = 2;
	} else if (!strcmp(a[0], "comm")) {
		c->ret = prctl(PR_SET_NAME, a[1], 0, 0, 0);
		c->used = 2;
	} else if (!strcmp(a[0], "badptr")) {
		c->ret = syscall(SYS_open, (const char *)8, 0, 0);
		c->used = 1;
	} else {
		fprintf(stderr, "opener: unknown call %s\n", a[0]);
		exit(2);
	}
	c->err = c->ret < 0 ? errno : 0;
	if (c->ret >= 0 && strncmp(a[0], "open", 4) == 0)
		last_fd = c->ret;
	return NULL;
}

int main(int argc, char **argv)
{
	int i = 1;

	while (i < argc) {
		int threaded = 0;
		long repeat = 1;

		for (;;) {
			if (i < argc && !strcmp(argv[i], "thread")) {
				threaded = 1;
				i++;
			} else if (i + 1 < argc && !strcmp(argv[i], "repeat")) {
				repeat = atol(argv[i + 1]);
				i += 2;
			} else {
				break;
			}
		}
		if (i >= argc)
			break;
		struct call c = { .argv = argv + i };
		for (long r = 0; r < repeat; r++) {
			if (threaded) {
				pthread_t t;
				pthread_create(&t, NULL, run_call, &c);
				pthread_join(t, NULL);
			} else {
				run_call(&c);
			}
			if (repeat > 1 && c.ret >= 0 && strncmp(argv[i], "open", 4) == 0)
				close((int)c.ret);
		}
		printf("%s %ld %d %d\n", argv[i], c.ret, c.err, c.tid);
		i += c.used;
	}
	return 0;
}
