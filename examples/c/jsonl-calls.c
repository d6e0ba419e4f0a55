/*
 * jsonl-calls: performs the calls of a `tsmlab replay` script with real system calls and
 * prints one answer line per call in replay's format. Run under `tsmlab run`, its answers
 * are those of the host model reached through the kernel's syscall path; the golden test
 * (tests/TsmLab.Tests/Run) checks them line by line against `tsmlab replay` of the same file.
 *
 *   tsmlab run --host cca -- ./jsonl-calls ../cca-assign.jsonl
 *
 * Ops: mmap/munmap/mprotect (MAP_FIXED anonymous memory), write/read (this process's memory
 * through process_vm_writev/readv on itself, so a protected page gives EFAULT as in the model),
 * open (O_RDWR), close, ioctl, sysfs_read/sysfs_write (open + read/write of the path).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FIELDS 8

struct field { char key[16]; char val[8192]; int is_string; };

static const char *errname(int e)
{
	static char buf[16];
	switch (e) {
	case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EINTR: return "EINTR";
	case EIO: return "EIO"; case ENXIO: return "ENXIO"; case E2BIG: return "E2BIG";
	case EBADF: return "EBADF"; case ENOMEM: return "ENOMEM"; case EACCES: return "EACCES";
	case EFAULT: return "EFAULT"; case EBUSY: return "EBUSY"; case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV"; case EINVAL: return "EINVAL"; case ENOTTY: return "ENOTTY";
	case EMFILE: return "EMFILE"; case ENOSPC: return "ENOSPC"; case ERANGE: return "ERANGE";
	case ENODATA: return "ENODATA"; case EBADFD: return "EBADFD"; case EOPNOTSUPP: return "EOPNOTSUPP";
	}
	snprintf(buf, sizeof buf, "E%d", e);
	return buf;
}

/* Parses one flat JSON object of string and number members. Returns the number of fields, -1 if malformed. */
static int parse(const char *s, struct field *f)
{
	int n = 0;
	while (*s == ' ' || *s == '\t') s++;
	if (*s++ != '{') return -1;
	for (;;) {
		while (*s == ' ') s++;
		if (*s == '}') return n;
		if (n == MAX_FIELDS || *s++ != '"') return -1;
		size_t k = 0;
		while (*s && *s != '"') { if (k + 1 < sizeof f[n].key) f[n].key[k++] = *s; s++; }
		f[n].key[k] = 0;
		if (*s++ != '"') return -1;
		while (*s == ' ') s++;
		if (*s++ != ':') return -1;
		while (*s == ' ') s++;
		size_t v = 0;
		if (*s == '"') {
			s++;
			f[n].is_string = 1;
			while (*s && *s != '"') {
				if (*s == '\\' && s[1]) s++;
				if (v + 1 < sizeof f[n].val) f[n].val[v++] = *s;
				s++;
			}
			if (*s++ != '"') return -1;
		} else {
			f[n].is_string = 0;
			while (*s && *s != ',' && *s != '}' && *s != ' ') { if (v + 1 < sizeof f[n].val) f[n].val[v++] = *s; s++; }
		}
		f[n].val[v] = 0;
		n++;
		while (*s == ' ') s++;
		if (*s == ',') s++;
	}
}

static const char *get(struct field *f, int n, const char *key)
{
	for (int i = 0; i < n; i++) if (!strcmp(f[i].key, key)) return f[i].val;
	return NULL;
}

static uint64_t num(struct field *f, int n, const char *key)
{
	const char *v = get(f, n, key);
	return v ? strtoull(v, NULL, 0) : 0;
}

static void ret(long r)
{
	if (r < 0) printf("\"ret\":%ld,\"errno\":\"%s\"}\n", -(long)errno, errname(errno));
	else printf("\"ret\":%ld}\n", r);
}

static int prot_of(const char *p)
{
	if (!p) return -1;
	if (!strcmp(p, "r")) return PROT_READ;
	if (!strcmp(p, "rw")) return PROT_READ | PROT_WRITE;
	if (!strcmp(p, "none")) return PROT_NONE;
	return -1;
}

int main(int argc, char **argv)
{
	if (argc != 2) { fprintf(stderr, "usage: %s SCRIPT.jsonl\n", argv[0]); return 2; }
	/* Read the whole script first, so its descriptor is closed before the calls (fd numbers). */
	FILE *in = fopen(argv[1], "r");
	if (!in) { perror(argv[1]); return 2; }
	char *script = NULL; size_t cap = 0, len = 0; char chunk[65536]; size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, in)) > 0) {
		if (len + got + 1 > cap) { cap = (len + got + 1) * 2; script = realloc(script, cap); }
		memcpy(script + len, chunk, got); len += got;
	}
	fclose(in);
	if (!script) return 0;
	script[len] = 0;

	static struct field f[MAX_FIELDS];
	static unsigned char bytes[1 << 20];
	int line = 0;
	for (char *p = script, *next; p && *p; p = next) {
		next = strchr(p, '\n');
		if (next) *next++ = 0;
		line++;
		char *t = p;
		while (*t == ' ' || *t == '\t' || *t == '\r') t++;
		if (!*t || *t == '#') continue;
		int n = parse(t, f);
		const char *op = n < 0 ? NULL : get(f, n, "op");
		if (!op) { printf("{\"line\":%d,\"error\":\"malformed line\"}\n", line); continue; }
		printf("{\"line\":%d,\"op\":\"%s\",", line, op);
		errno = 0;
		if (!strcmp(op, "mmap")) {
			void *addr = (void *)(uintptr_t)num(f, n, "addr");
			size_t l = num(f, n, "len");
			void *m = mmap(addr, l, prot_of(get(f, n, "prot")), MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			if (m == MAP_FAILED && errno == EEXIST)
				m = mmap(addr, l, prot_of(get(f, n, "prot")), MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			ret(m == MAP_FAILED ? -1 : 0);
		} else if (!strcmp(op, "munmap")) {
			ret(munmap((void *)(uintptr_t)num(f, n, "addr"), num(f, n, "len")));
		} else if (!strcmp(op, "mprotect")) {
			ret(mprotect((void *)(uintptr_t)num(f, n, "addr"), num(f, n, "len"), prot_of(get(f, n, "prot"))));
		} else if (!strcmp(op, "write")) {
			const char *hex = get(f, n, "hex");
			size_t l = 0;
			for (const char *h = hex; h && h[0] && h[1] && l < sizeof bytes; h += 2) {
				unsigned b; sscanf(h, "%2x", &b); bytes[l++] = (unsigned char)b;
			}
			struct iovec local = { bytes, l }, remote = { (void *)(uintptr_t)num(f, n, "addr"), l };
			ssize_t w = l ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) : 0;
			if (w >= 0 && (size_t)w != l) errno = EFAULT, w = -1;
			ret(w < 0 ? -1 : 0);
		} else if (!strcmp(op, "read")) {
			size_t l = num(f, n, "len");
			if (l > sizeof bytes) l = sizeof bytes;
			struct iovec local = { bytes, l }, remote = { (void *)(uintptr_t)num(f, n, "addr"), l };
			ssize_t r = l ? process_vm_readv(getpid(), &local, 1, &remote, 1, 0) : 0;
			if (r >= 0 && (size_t)r != l) errno = EFAULT, r = -1;
			if (r < 0) { ret(-1); continue; }
			printf("\"hex\":\"");
			for (size_t i = 0; i < l; i++) printf("%02x", bytes[i]);
			printf("\"}\n");
		} else if (!strcmp(op, "open")) {
			int fd = open(get(f, n, "path"), O_RDWR);
			if (fd < 0) ret(-1); else printf("\"fd\":%d}\n", fd);
		} else if (!strcmp(op, "close")) {
			ret(close((int)num(f, n, "fd")));
		} else if (!strcmp(op, "ioctl")) {
			ret(ioctl((int)num(f, n, "fd"), (unsigned long)(uint32_t)num(f, n, "cmd"), (unsigned long)num(f, n, "arg")));
		} else if (!strcmp(op, "sysfs_read")) {
			int fd = open(get(f, n, "path"), O_RDONLY);
			ssize_t r = fd < 0 ? -1 : read(fd, bytes, sizeof bytes - 1);
			if (fd >= 0) { int e = errno; close(fd); errno = e; }
			if (r < 0) { ret(-1); continue; }
			printf("\"value\":\"");
			for (ssize_t i = 0; i < r; i++) {
				if (bytes[i] == '\n') printf("\\n");
				else if (bytes[i] == '"' || bytes[i] == '\\') printf("\\%c", bytes[i]);
				else putchar(bytes[i]);
			}
			printf("\"}\n");
		} else if (!strcmp(op, "sysfs_write")) {
			const char *v = get(f, n, "value");
			int fd = open(get(f, n, "path"), O_WRONLY);
			ssize_t w = fd < 0 ? -1 : write(fd, v, strlen(v));
			if (fd >= 0) { int e = errno; close(fd); errno = e; }
			ret(w < 0 ? -1 : 0);
		} else {
			printf("\"error\":\"unknown op\"}\n");
		}
		fflush(stdout);
	}
	free(script);
	return 0;
}
