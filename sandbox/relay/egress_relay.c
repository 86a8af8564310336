/*
 * cellgate-egress-relay: the sandbox's only way out to the network.
 *
 *     cellgate-egress-relay PORT SOCKET -- KERNEL ARGV...
 *
 * Started by bubblewrap in the kernel's place. It listens on
 * 127.0.0.1:PORT in the sandbox's own network namespace (where the kernel
 * finds it through HTTP_PROXY and HTTPS_PROXY), forks itself off, and
 * executes the kernel, so the kernel keeps the pid bubblewrap gave it and
 * leads its session. Each connection is passed, byte for byte, to the
 * server's egress broker over the unix socket SOCKET (in the kernel
 * directory, bound into the sandbox): the broker reads the proxy request,
 * asks policy, and answers. The relay decides nothing; it runs under the
 * same seccomp filter and limits as the kernel, and dies with it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_broker(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof a.sun_path)
		return -1;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Copies what is readable on from to to; 0 at EOF, -1 on error. */
static ssize_t move(int from, int to)
{
	static char buf[65536];
	ssize_t n = read(from, buf, sizeof buf), off = 0;

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : n;
	while (off < n) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += w;
	}
	return n;
}

/* Both directions until both have ended. */
static void pump(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	int open_dirs = 2;

	while (open_dirs > 0) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		for (int i = 0; i < 2; i++) {
			int to = i ? a : b;
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = move(p[i].fd, to);
			if (n < 0)
				return;
			if (n == 0) {
				/* this side is done sending: pass the half-close on */
				shutdown(to, SHUT_WR);
				p[i].fd = -1;
				open_dirs--;
			}
		}
	}
}

static void __attribute__((noreturn)) serve(int lfd, const char *path)
{
	signal(SIGCHLD, SIG_IGN); /* connection children reap themselves */
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), u;
		pid_t pid;

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* out of descriptors or processes: wait, do not spin */
			sleep(1);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			u = connect_broker(path);
			if (u < 0) {
				static const char msg[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
							  "Connection: close\r\n\r\ncellgate egress: the broker "
							  "is not reachable\n";
				(void)!write(c, msg, sizeof msg - 1);
				_exit(1);
			}
			pump(c, u);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	int first = 0, lfd, port;
	pid_t parent = getpid(), pid;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
	}
	if (argc < 5 || first != 4 || first >= argc) {
		fprintf(stderr, "usage: %s PORT SOCKET -- COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	port = atoi(argv[1]);
	lfd = port > 0 && port < 65536 ? listen_on(port) : -1;
	if (lfd < 0) {
		/* the kernel still runs, without a way out */
		fprintf(stderr, "cellgate-egress-relay: cannot listen on 127.0.0.1:%s: %s\n", argv[1],
			strerror(errno));
	} else {
		pid = fork();
		if (pid == 0) {
			/* out of the kernel's process group, so its interrupts pass us by */
			setpgid(0, 0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(0);
			serve(lfd, argv[2]);
		}
		close(lfd);
	}
	execv(argv[first], argv + first);
	fprintf(stderr, "cellgate-egress-relay: cannot execute %s: %s\n", argv[first],
		strerror(errno));
	return 127;
}
