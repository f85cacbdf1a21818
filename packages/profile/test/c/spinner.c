// The profile tests' C workload: prints "ready", then burns CPU until it is
// killed, in profile_test_hot() (user mode only: no system call in the
// loop), called from main. Built with frame pointers so its user stack
// walks back to main.
#include <stdio.h>

volatile unsigned long sink;

__attribute__((noinline)) void profile_test_hot(void)
{
	for (unsigned long i = 0; i < 100000000UL; i++)
		sink += i * i;
}

int main(void)
{
	printf("ready\n");
	fflush(stdout);
	for (;;)
		profile_test_hot();
}
