/* Tiny target with a USDT probe (sys/sdt.h): fires retrace_test:hit(counter, 0x5eed) every
 * 10 ms until killed or until the count given as argument is reached. tick() is a plain
 * function for uprobe tests. */
#include <stdlib.h>
#include <sys/sdt.h>
#include <time.h>

__attribute__((noinline)) long tick(long i)
{
	__asm__ volatile("" ::: "memory"); /* keep the call */
	return i;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 0;
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (long i = 1; n == 0 || i <= n; i++) {
		DTRACE_PROBE2(retrace_test, hit, i, 0x5eedL);
		tick(i);
		nanosleep(&ts, NULL);
	}
	return 0;
}
