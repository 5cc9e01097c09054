/* Benchmark producer: runs a loaded BPF program (by id) through BPF_PROG_TEST_RUN as fast as
 * possible for a number of seconds. Separate process so the consumer under test has its core. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned char pkt[64];
	unsigned long runs = 0;
	double end;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s PROG_ID SECONDS\n", argv[0]);
		return 2;
	}
	fd = bpf_prog_get_fd_by_id(atoi(argv[1]));
	if (fd < 0) {
		perror("bpf_prog_get_fd_by_id");
		return 1;
	}
	memset(pkt, 0, sizeof(pkt));
	pkt[12] = 0x08; /* ethertype IPv4, so the skb looks like a packet */
	end = now() + atof(argv[2]);
	while (now() < end) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 256);

		if (bpf_prog_test_run_opts(fd, &opts)) {
			perror("bpf_prog_test_run_opts");
			return 1;
		}
		runs += 256;
	}
	printf("{\"runs\":%lu}\n", runs);
	return 0;
}
