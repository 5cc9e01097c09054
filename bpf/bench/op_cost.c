/* Loads bpf/tests/op_cost.bpf.o, attaches every program, turns on the kernel's BPF statistics
 * and, when stdin closes, prints each program's average run time per hit (ns) as JSON lines.
 * Drains its ring buffer meanwhile. The caller runs the traffic. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int drop(void *ctx, void *data, size_t len) { return 0; }

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	struct ring_buffer *rb;
	int stats_fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s op_cost.bpf.o [PROGRAM[@TRACEPOINT]...]\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "loading %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Arguments: PROGRAM (attached where its section says) or PROGRAM@TRACEPOINT (a raw
	 * tracepoint, by name); none: every program where its section says. */
	bpf_object__for_each_program(p, obj) {
		bool wanted = argc == 2;

		for (int i = 2; i < argc; i++) {
			const char *name = bpf_program__name(p);
			size_t n = strlen(name);

			if (strncmp(argv[i], name, n) || (argv[i][n] && argv[i][n] != '@'))
				continue;
			if (argv[i][n] == '@') {
				if (!bpf_program__attach_raw_tracepoint(p, argv[i] + n + 1)) {
					fprintf(stderr, "attaching %s: %s\n", argv[i], strerror(errno));
					return 1;
				}
			} else {
				wanted = true;
			}
		}
		if (wanted && !bpf_program__attach(p)) {
			fprintf(stderr, "attaching %s: %s\n", bpf_program__name(p), strerror(errno));
			return 1;
		}
	}
	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "enabling BPF statistics: %s\n", strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(obj, "ring")), drop, NULL, NULL);
	ring_buffer__add(rb, bpf_map__fd(bpf_object__find_map_by_name(obj, "small_ring")), drop, NULL);
	ring_buffer__add(rb, bpf_map__fd(bpf_object__find_map_by_name(obj, "ring_cpu0")), drop, NULL);
	ring_buffer__add(rb, bpf_map__fd(bpf_object__find_map_by_name(obj, "ring_cpu1")), drop, NULL);
	printf("ready\n");
	fflush(stdout);
	fcntl(0, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		char c;

		ring_buffer__consume(rb);
		if (poll(&pfd, 1, 10) > 0 && read(0, &c, 1) <= 0)
			break;
	}
	bpf_object__for_each_program(p, obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len);
		printf("{\"name\":\"%s\",\"run_time_ns\":%llu,\"run_cnt\":%llu}\n", bpf_program__name(p),
		       (unsigned long long)info.run_time_ns, (unsigned long long)info.run_cnt);
	}
	ring_buffer__free(rb);
	close(stats_fd);
	bpf_object__close(obj);
	return 0;
}
