/*
 * syscall-bench: the C driver of the `tsmlab run` benchmark (bench/README.md, "run"). Each mode
 * times a loop of one kind of call with CLOCK_MONOTONIC and prints
 *   RESULT <name> <ns per call> <calls>
 * Modes:
 *   unrelated N   N syscalls the filter does not trap: getppid, write(/dev/null), read(/dev/zero),
 *                 ioctl(FIONREAD) on a pipe, in turn
 *   pipe N        ioctl(FIONREAD) on a pipe (a real ioctl)
 *   bare N        ioctl(-1, IOMMU_DESTROY): trapped; the bare server answers it without work
 *   trapped N     ioctl(pipe, IOMMU_DESTROY): trapped, found not to be a model file, continued (ENOTTY)
 *   noop N        KVM_GET_API_VERSION on /dev/kvm: an emulated ioctl without user memory
 *   tsmreq N      IOMMU_VDEVICE_TSM_REQ(OBJECT_INFO) on a bound CCA vDevice (host 'cca')
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "tsmlab-uapi.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void result(const char *name, double t0, long n)
{
	printf("RESULT %s %.1f %ld\n", name, (now_ns() - t0) / n, n);
	fflush(stdout);
}

static int must(long rc, const char *what)
{
	if (rc < 0) { fprintf(stderr, "syscall-bench: %s: %s\n", what, strerror(errno)); exit(1); }
	return (int)rc;
}

/* The assignment up to a bound vDevice on the 'cca' host; returns the iommufd, sets *vdevice. */
static int bound_cca_vdevice(uint32_t *vdevice)
{
	int iommufd = must(open("/dev/iommu", O_RDWR), "open /dev/iommu");
	int kvm = must(open("/dev/kvm", O_RDWR), "open /dev/kvm");
	int vm = must(ioctl(kvm, KVM_CREATE_VM, (unsigned long)KVM_VM_TYPE_ARM_REALM), "KVM_CREATE_VM (needs --host cca)");
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
	must(ioctl(vm, KVM_CREATE_DEVICE, &cd), "KVM_CREATE_DEVICE");
	int vfio = must(open("/dev/vfio/devices/vfio0", O_RDWR), "open vfio0");
	int32_t v = vfio;
	struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE, .attr = KVM_DEV_VFIO_FILE_ADD, .addr = (uintptr_t)&v };
	must(ioctl((int)cd.fd, KVM_SET_DEVICE_ATTR, &attr), "FILE_ADD");
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof bind, .iommufd = (uint32_t)iommufd };
	must(ioctl(vfio, VFIO_DEVICE_BIND_IOMMUFD, &bind), "bind");
	struct iommu_ioas_alloc ioas = { .size = sizeof ioas };
	must(ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas), "IOAS");
	struct iommu_hwpt_alloc hwpt = { .size = sizeof hwpt, .flags = IOMMU_HWPT_ALLOC_NEST_PARENT, .dev_id = bind.out_devid, .pt_id = ioas.out_ioas_id };
	must(ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt), "HWPT");
	struct iommu_viommu_alloc vi = { .size = sizeof vi, .type = IOMMU_VIOMMU_TYPE_ARM_REALM_SMMUV3, .dev_id = bind.out_devid, .hwpt_id = hwpt.out_hwpt_id };
	must(ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &vi), "vIOMMU");
	struct iommu_vdevice_alloc vd = { .size = sizeof vd, .viommu_id = vi.out_viommu_id, .dev_id = bind.out_devid, .virt_id = 0x18 };
	must(ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &vd), "vDevice");
	struct iommu_vdevice_tsm_op op = { .size = sizeof op, .type = IOMMU_VDEVICE_TSM_BIND, .vdevice_id = vd.out_vdevice_id };
	must(ioctl(iommufd, IOMMU_VDEVICE_TSM_OP, &op), "BIND");
	*vdevice = vd.out_vdevice_id;
	return iommufd;
}

int main(int argc, char **argv)
{
	if (argc != 3) { fprintf(stderr, "usage: syscall-bench unrelated|pipe|bare|noop|tsmreq N\n"); return 2; }
	long n = atol(argv[2]);
	const char *mode = argv[1];
	int p[2];
	must(pipe(p), "pipe");
	int avail;
	if (!strcmp(mode, "unrelated")) {
		int null = must(open("/dev/null", O_WRONLY), "open /dev/null");
		int zero = must(open("/dev/zero", O_RDONLY), "open /dev/zero");
		char c = 0;
		double t0 = now_ns();
		for (long i = 0; i < n / 4; i++) {
			getppid();
			if (write(null, &c, 1) != 1) return 1;
			if (read(zero, &c, 1) != 1) return 1;
			ioctl(p[0], FIONREAD, &avail);
		}
		result("unrelated", t0, n / 4 * 4);
	} else if (!strcmp(mode, "pipe")) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) ioctl(p[0], FIONREAD, &avail);
		result("pipe-ioctl", t0, n);
	} else if (!strcmp(mode, "bare")) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) ioctl(-1, IOMMU_DESTROY, 0);
		result("bare-notification", t0, n);
	} else if (!strcmp(mode, "trapped")) {
		double t0 = now_ns();
		for (long i = 0; i < n; i++) ioctl(p[0], IOMMU_DESTROY, 0);
		result("trapped-continued", t0, n);
	} else if (!strcmp(mode, "noop")) {
		int kvm = must(open("/dev/kvm", O_RDWR), "open /dev/kvm");
		if (ioctl(kvm, 0xae00, 0) != KVM_API_VERSION) { fprintf(stderr, "syscall-bench: KVM_GET_API_VERSION is not %d\n", KVM_API_VERSION); return 1; }
		double t0 = now_ns();
		for (long i = 0; i < n; i++) ioctl(kvm, 0xae00, 0);
		result("emulated-noop", t0, n);
	} else if (!strcmp(mode, "tsmreq")) {
		uint32_t vdevice;
		int iommufd = bound_cca_vdevice(&vdevice);
		uint32_t object = 3, size = 0; /* OBJECT_INFO(INTERFACE_REPORT): its size */
		struct iommu_vdevice_tsm_req_op_arch r = { .size = sizeof r, .vdevice_id = vdevice, .op = IOMMU_VDEVICE_TSM_REQ_OP_OBJECT_INFO,
			.tvm_arch = IOMMU_VDEVICE_TSM_TVM_ARCH_CCA, .req_len = 4, .resp_len = 4, .req_uptr = (uintptr_t)&object, .resp_uptr = (uintptr_t)&size };
		must(ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &r), "TSM_REQ(OBJECT_INFO)");
		double t0 = now_ns();
		for (long i = 0; i < n; i++) ioctl(iommufd, IOMMU_VDEVICE_TSM_REQ, &r);
		result("emulated-tsm-req", t0, n);
	} else {
		fprintf(stderr, "syscall-bench: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}
