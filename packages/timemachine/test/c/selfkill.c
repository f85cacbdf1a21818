// A SIGSEGV that is no fault: a few files, allocations and frees, then the
// program sends itself SIGSEGV with kill(). The kernel's siginfo then says
// who sent it (si_code SI_USER, the sender's pid) where a fault's would hold
// the address that faulted.
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	for (int i = 0; i < 5; i++) {
		int fd = open("/dev/null", O_RDONLY);
		char *p = malloc(64);
		close(fd);
		free(p);
	}
	printf("sender %d\n", getpid());
	fflush(stdout);
	kill(getpid(), SIGSEGV);
	return 0; /* not reached: SIGSEGV's default action ends the process */
}
