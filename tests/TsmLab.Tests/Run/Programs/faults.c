/*
 * faults: a program that misuses the modelled devices on purpose, for the fault tests of
 * `tsmlab run` (tests/TsmLab.Tests/Run/RunFaultTests.cs). One mode per run:
 *   garbage      wild pointers, huge sizes, random commands and fds; then a normal call still works
 *   race-close   4 threads ioctl an iommufd while the main thread closes and reopens it
 *   fork         parent and child allocate on the inherited iommufd; the ids never collide
 *   exec         exec keeps a plain fd and drops an O_CLOEXEC one
 *   dup          dup, dup2, dup3, fcntl(F_DUPFD_CLOEXEC): every copy reaches the same iommufd
 *   killed       bound TDI, a thread in a loop of TSM requests, SIGKILL from the main thread
 * Prints "result ok ..." and exits 0 when every answer was one the kernel could give.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tsmlab-uapi.h"

static int iommufd = -1;
static volatile int stop;
static long unexpected;

static uint32_t ioas_alloc(int fd, int *err)
{
	struct iommu_ioas_alloc a = { .size = sizeof a };
	int rc = ioctl(fd, IOMMU_IOAS_ALLOC, &a);
	*err = rc < 0 ? errno : 0;
	return rc < 0 ? 0 : a.out_ioas_id;
}

static uint64_t rnd(void)
{
	static uint64_t x = 0x9e3779b97f4a7c15ull;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	return x;
}

static int garbage(void)
{
	static const uint32_t cmds[] = { IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_HWPT_ALLOC, IOMMU_VIOMMU_ALLOC,
		IOMMU_VDEVICE_ALLOC, IOMMU_VDEVICE_TSM_OP, IOMMU_VDEVICE_TSM_REQ, IOMMU_VDEVICE_TSM_INFO,
		VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT, KVM_CREATE_VM, KVM_CREATE_DEVICE, KVM_SET_DEVICE_ATTR, 0x3bff, 0xaeff };
	long page = sysconf(_SC_PAGESIZE);
	unsigned char *buf = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(buf + 3 * page, page, PROT_NONE);
	int fds[4] = { open("/dev/iommu", O_RDWR), open("/dev/kvm", O_RDWR), open("/dev/vfio/devices/vfio0", O_RDWR), 999 };
	long calls = 0, errs[256] = { 0 };
	for (int i = 0; i < 3000; i++) {
		for (int k = 0; k < 3 * page; k += 8) *(uint64_t *)(buf + k) = rnd() & ((rnd() & 1) ? 0xff : ~0ull);
		*(uint32_t *)buf = (uint32_t)(rnd() % 3 == 0 ? rnd() : rnd() % 96);
		uintptr_t args[] = { (uintptr_t)buf, (uintptr_t)(buf + 3 * page - (rnd() % 64)), rnd(), 8, 0xffff800000000000ull, (uintptr_t)-1 };
		int fd = fds[rnd() % 4];
		uint32_t cmd = cmds[rnd() % (sizeof cmds / sizeof cmds[0])];
		uintptr_t arg = args[rnd() % 6];
		if (cmd == KVM_CREATE_VM) arg = rnd() % 0x200;
		long rc = ioctl(fd, cmd, arg);
		calls++;
		if (rc < 0 && errno < 256) errs[errno]++;
		if (rc < 0 && (errno == ENOSYS || errno == EINTR)) unexpected++;
	}
	int err;
	int fresh = open("/dev/iommu", O_RDWR);
	ioas_alloc(fresh, &err);
	if (err) unexpected++;
	printf("garbage: %ld calls; EFAULT %ld EINVAL %ld ENOTTY %ld EBADF %ld ENOENT %ld; fresh IOAS_ALLOC %s\n", calls,
	       errs[EFAULT], errs[EINVAL], errs[ENOTTY], errs[EBADF], errs[ENOENT], err ? strerrorname_np(err) : "ok");
	return 0;
}

static void *alloc_loop(void *p)
{
	long *bad = p;
	for (int i = 0; i < 2000 && !stop; i++) {
		int err;
		ioas_alloc(iommufd, &err);
		if (err && err != EBADF) (*bad)++;
	}
	return NULL;
}

static int race_close(void)
{
	iommufd = open("/dev/iommu", O_RDWR);
	pthread_t t[4];
	long bad[4] = { 0 };
	for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, alloc_loop, &bad[i]);
	for (int i = 0; i < 200; i++) {
		int fd = iommufd;
		close(fd);
		int again = open("/dev/iommu", O_RDWR); /* usually the same number: lowest free */
		iommufd = again;
	}
	for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
	long total = bad[0] + bad[1] + bad[2] + bad[3];
	unexpected += total;
	printf("race-close: unexpected errnos %ld\n", total);
	return 0;
}

static int forked(void)
{
	iommufd = open("/dev/iommu", O_RDWR);
	int p[2];
	if (pipe(p)) return 2;
	pid_t child = fork();
	int err;
	if (child == 0) {
		for (int i = 0; i < 100; i++) {
			uint32_t id = ioas_alloc(iommufd, &err);
			if (err) id = 0;
			if (write(p[1], &id, 4) != 4) _exit(3);
		}
		_exit(0);
	}
	close(p[1]);
	static uint8_t seen[1024];
	long dup_ids = 0, fails = 0;
	for (int i = 0; i < 100; i++) {
		uint32_t id = ioas_alloc(iommufd, &err);
		if (err || id >= 1024) { fails++; continue; }
		if (seen[id]++) dup_ids++;
	}
	uint32_t id;
	while (read(p[0], &id, 4) == 4) {
		if (id == 0 || id >= 1024) { fails++; continue; }
		if (seen[id]++) dup_ids++;
	}
	int status;
	waitpid(child, &status, 0);
	/* The child exited: the parent's copy keeps the file open. */
	ioas_alloc(iommufd, &err);
	if (err) fails++;
	unexpected += dup_ids + fails;
	printf("fork: child status %d, duplicate ids %ld, failures %ld\n", WEXITSTATUS(status), dup_ids, fails);
	return 0;
}

static int exec_parent(char *self)
{
	int keep = open("/dev/iommu", O_RDWR);
	int drop = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	char a[16], b[16];
	snprintf(a, sizeof a, "%d", keep);
	snprintf(b, sizeof b, "%d", drop);
	execl(self, self, "exec-child", a, b, (char *)NULL);
	perror("execl");
	return 2;
}

static int exec_child(int keep, int drop)
{
	int err;
	ioas_alloc(keep, &err);
	int rc = ioctl(drop, KVM_CREATE_VM, (unsigned long)KVM_X86_SNP_VM);
	int derr = rc < 0 ? errno : 0;
	if (err || derr != EBADF) unexpected++;
	printf("exec: inherited iommufd %s; O_CLOEXEC kvm fd %s\n", err ? strerrorname_np(err) : "ok", derr ? strerrorname_np(derr) : "still open");
	return 0;
}

static int dups(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	int copies[4] = { dup(fd), dup2(fd, 100), dup3(fd, 101, O_CLOEXEC), fcntl(fd, F_DUPFD_CLOEXEC, 200) };
	close(fd);
	uint32_t last = 0;
	for (int i = 0; i < 4; i++) {
		int err;
		uint32_t id = ioas_alloc(copies[i], &err);
		/* One context behind every copy: the ids count up across them. */
		if (err || id != last + 1) unexpected++;
		last = id;
		printf("dup: copy %d (fd %d) IOAS_ALLOC -> %s id %u\n", i, copies[i], err ? strerrorname_np(err) : "ok", id);
	}
	for (int i = 0; i < 3; i++) close(copies[i]);
	int err;
	ioas_alloc(copies[3], &err); /* the last copy keeps the file open */
	if (err) unexpected++;
	close(copies[3]);
	ioas_alloc(copies[3], &err);
	if (err != EBADF) unexpected++;
	return 0;
}

static void *request_loop(void *p)
{
	struct iommu_vdevice_tsm_info *info = p;
	for (;;) {
		ioctl(iommufd, IOMMU_VDEVICE_TSM_INFO, info);
		struct iommu_vdevice_tsm_op op = { .size = sizeof op, .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = info->vdevice_id };
		ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op);
	}
	return NULL;
}

static int killed(void)
{
	iommufd = open("/dev/iommu", O_RDWR);
	int kvm = open("/dev/kvm", O_RDWR);
	int vm = ioctl(kvm, KVM_CREATE_VM, (unsigned long)KVM_X86_SNP_VM);
	if (vm < 0) vm = ioctl(kvm, KVM_CREATE_VM, (unsigned long)KVM_VM_TYPE_ARM_REALM);
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	ioctl(vm, KVM_CREATE_DEVICE, &cd);
	int vfio = open("/dev/vfio/devices/vfio0", O_RDWR);
	int32_t v = vfio;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD, .addr = (uintptr_t)&v };
	ioctl((int)cd.fd, KVM_SET_DEVICE_ATTR, &attr);
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof bind, .iommufd = (uint32_t)iommufd };
	ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	struct iommu_ioas_alloc ioas = { .size = sizeof ioas };
	ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas);
	struct iommu_hwpt_alloc hwpt = { .size = sizeof hwpt, .flags = IOMMU_HWPT_ALLOC_NEST_PARENT, .dev_id = bind.out_devid, .pt_id = ioas.out_ioas_id };
	ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt);
	struct iommu_viommu_alloc vi = { .size = sizeof vi, .type = IOMMU_VIOMMU_TYPE_AMD, .dev_id = bind.out_devid, .hwpt_id = hwpt.out_hwpt_id };
	ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &vi);
	struct iommu_vdevice_alloc vd = { .size = sizeof vd, .viommu_id = vi.out_viommu_id, .dev_id = bind.out_devid, .virt_id = 0x18 };
	ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vd);
	struct iommu_vdevice_tsm_op op = { .size = sizeof op, .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = vd.out_vdevice_id };
	int rc = ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op);
	printf("killed: bind %s\n", rc < 0 ? strerrorname_np(errno) : "ok");
	fflush(stdout);
	static struct iommu_vdevice_tsm_info info[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		info[i] = (struct iommu_vdevice_tsm_info){ .size = sizeof info[i], .vdevice_id = vd.out_vdevice_id };
		pthread_create(&t[i], NULL, request_loop, &info[i]);
	}
	usleep(30000);
	kill(getpid(), SIGKILL);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: faults garbage|race-close|fork|exec|dup|killed\n"); return 2; }
	int rc;
	if (!strcmp(argv[1], "garbage")) rc = garbage();
	else if (!strcmp(argv[1], "race-close")) rc = race_close();
	else if (!strcmp(argv[1], "fork")) rc = forked();
	else if (!strcmp(argv[1], "exec")) return exec_parent(argv[0]);
	else if (!strcmp(argv[1], "exec-child") && argc == 4) rc = exec_child(atoi(argv[2]), atoi(argv[3]));
	else if (!strcmp(argv[1], "killed")) rc = killed();
	else if (!strcmp(argv[1], "dup")) rc = dups();
	else { fprintf(stderr, "faults: unknown mode %s\n", argv[1]); return 2; }
	printf("result %s (unexpected %ld)\n", unexpected ? "FAILED" : "ok", unexpected);
	return rc ? rc : unexpected ? 1 : 0;
}
