// oomhog: the oomkill tests' workload. Prints "ready", waits for "go" on
// stdin (the test moves it into a memory-limited cgroup first), then
// allocates and touches memory, 1 MiB at a time:
//   oomhog MIB   stops at MIB MiB, prints "held", waits for stdin to close;
//   oomhog 0     keeps allocating until killed.
// Either way it never goes past SAFETY_MIB: were it ever outside its cgroup,
// it exits (status 3) long before the machine runs short.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAFETY_MIB 256
#define MIB (1024 * 1024)

int main(int argc, char **argv)
{
	long target = argc > 1 ? atol(argv[1]) : 0;
	long page = sysconf(_SC_PAGESIZE);
	char line[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "go\n") != 0)
		return 2;
	for (long mib = 0; target == 0 || mib < target; mib++) {
		if (mib >= SAFETY_MIB)
			return 3;
		char *p = malloc(MIB);
		if (!p)
			return 4;
		for (long off = 0; off < MIB; off += page)
			p[off] = (char)off | 1; /* touch: fault the page in */
	}
	printf("held\n");
	while (fgets(line, sizeof(line), stdin))
		;
	return 0;
}
