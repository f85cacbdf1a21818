// oomhog: the oomkill tests' workload. Prints "ready", waits for "go" on
// stdin (the test moves it into a memory-limited cgroup first), then
// allocates and touches memory, 1 MiB at a time:
//   oomhog MIB   stops at MIB MiB, prints "held", waits for stdin to close;
//   oomhog 0     keeps allocating until killed;
//   oomhog MIB NAME  allocates in a second thread named NAME (the main
//                thread waits for it).
// Either way it never goes past SAFETY_MIB: were it ever outside its cgroup,
// it exits (status 3) long before the machine runs short.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAFETY_MIB 256
#define MIB (1024 * 1024)

static long target;
/* Where every block is kept: reachable from a global through volatile
 * pointers, so the compiler may not drop the allocations and the stores as
 * dead (it does, for memory that nothing reads). */
static char *volatile keep[SAFETY_MIB];

/* Allocates and touches target MiB (0: until killed); 0, or 3 at SAFETY_MIB. */
static int eat(void)
{
	long page = sysconf(_SC_PAGESIZE);

	for (long mib = 0; target == 0 || mib < target; mib++) {
		if (mib >= SAFETY_MIB)
			return 3;
		volatile char *p = malloc(MIB);
		if (!p)
			return 4;
		keep[mib] = (char *)p;
		for (long off = 0; off < MIB; off += page)
			p[off] = (char)off | 1; /* touch: fault the page in */
	}
	return 0;
}

static void *eater(void *arg)
{
	(void)arg;
	return (void *)(long)eat();
}

int main(int argc, char **argv)
{
	char line[64];
	int rc;

	target = argc > 1 ? atol(argv[1]) : 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 2;
	if (argc > 2) {
		pthread_t t;
		void *ret;

		if (pthread_create(&t, NULL, eater, NULL) != 0)
			return 5;
		pthread_setname_np(t, argv[2]);
		pthread_join(t, &ret);
		rc = (int)(long)ret;
	} else {
		rc = eat();
	}
	if (rc)
		return rc;
	printf("held\n");
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
