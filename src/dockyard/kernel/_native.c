/* dockyard.kernel._native: the system calls Python's os module lacks, for kernel/libc.py.
 *
 * Why C and not ctypes: `dockyard-runtime run` is benchmarked against runc and importing
 * ctypes with its libc handle costs ~2 ms of start-up, importing this module ~0.1 ms.
 * Each function makes one call and returns its result, or -errno when it failed;
 * kernel/libc.py turns that into an OSError naming the operation and its path.
 * Paths and strings arrive as bytes (or None where the call takes NULL).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435 /* the same on every architecture; glibc before 2.33 does not name it */
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static PyObject *result(long value) {
    return PyLong_FromLong(value < 0 ? -errno : value);
}

/* "O&" converter: None -> NULL, bytes -> its buffer (borrowed for the call). */
static int optional_bytes(PyObject *obj, void *out) {
    if (obj == Py_None) {
        *(const char **)out = NULL;
        return 1;
    }
    if (!PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "expected bytes or None, not %.100s", Py_TYPE(obj)->tp_name);
        return 0;
    }
    *(const char **)out = PyBytes_AS_STRING(obj);
    return 1;
}

static PyObject *native_mount(PyObject *self, PyObject *args) {
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    int rc;
    if (!PyArg_ParseTuple(args, "O&yO&kO&", optional_bytes, &source, &target, optional_bytes, &fstype, &flags,
                          optional_bytes, &data))
        return NULL;
    /* The GIL is let go around calls that may wait on a filesystem: the daemon mounts from threads. */
    Py_BEGIN_ALLOW_THREADS
    rc = mount(source, target, fstype, flags, data);
    Py_END_ALLOW_THREADS
    return result(rc);
}

static PyObject *native_umount2(PyObject *self, PyObject *args) {
    const char *target;
    int flags, rc;
    if (!PyArg_ParseTuple(args, "yi", &target, &flags))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = umount2(target, flags);
    Py_END_ALLOW_THREADS
    return result(rc);
}

static PyObject *native_unshare(PyObject *self, PyObject *args) {
    int flags;
    if (!PyArg_ParseTuple(args, "i", &flags))
        return NULL;
    return result(unshare(flags));
}

static PyObject *native_setns(PyObject *self, PyObject *args) {
    int fd, nstype;
    if (!PyArg_ParseTuple(args, "ii", &fd, &nstype))
        return NULL;
    return result(setns(fd, nstype));
}

static PyObject *native_pivot_root(PyObject *self, PyObject *args) {
    const char *new_root, *put_old;
    if (!PyArg_ParseTuple(args, "yy", &new_root, &put_old))
        return NULL;
    return result(syscall(SYS_pivot_root, new_root, put_old)); /* glibc has no wrapper */
}

static PyObject *native_sethostname(PyObject *self, PyObject *args) {
    const char *name;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "y#", &name, &length))
        return NULL;
    return result(sethostname(name, (size_t)length));
}

static PyObject *native_setdomainname(PyObject *self, PyObject *args) {
    const char *name;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "y#", &name, &length))
        return NULL;
    return result(setdomainname(name, (size_t)length));
}

static PyObject *native_prctl(PyObject *self, PyObject *args) {
    int option;
    unsigned long arg2 = 0, arg3 = 0, arg4 = 0, arg5 = 0;
    if (!PyArg_ParseTuple(args, "i|kkkk", &option, &arg2, &arg3, &arg4, &arg5))
        return NULL;
    return result(prctl(option, arg2, arg3, arg4, arg5));
}

/* Like os.fork() without its at-fork hooks (see libc.clone3): the GIL is kept, so the
 * child carries on in this interpreter as its only thread. */
static PyObject *native_clone3(PyObject *self, PyObject *args) {
    unsigned long long namespaces;
    int cgroup_fd;
    if (!PyArg_ParseTuple(args, "Ki", &namespaces, &cgroup_fd))
        return NULL;
    struct clone_args clone_args = {
        .flags = namespaces | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
        .exit_signal = SIGCHLD,
        .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
    };
    return result(syscall(SYS_clone3, &clone_args, sizeof clone_args));
}

static PyObject *native_close_range(PyObject *self, PyObject *args) {
    unsigned int first, last, flags;
    if (!PyArg_ParseTuple(args, "III", &first, &last, &flags))
        return NULL;
    return result(syscall(SYS_close_range, first, last, flags));
}

static PyObject *native_capset(PyObject *self, PyObject *args) {
    unsigned long long effective, permitted, inheritable;
    if (!PyArg_ParseTuple(args, "KKK", &effective, &permitted, &inheritable))
        return NULL;
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++) {
        data[i].effective = (uint32_t)(effective >> (32 * i));
        data[i].permitted = (uint32_t)(permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(inheritable >> (32 * i));
    }
    return result(syscall(SYS_capset, &header, data));
}

static PyObject *native_seccomp_set_filter(PyObject *self, PyObject *args) {
    unsigned int flags;
    const char *program;
    Py_ssize_t length;
    if (!PyArg_ParseTuple(args, "Iy#", &flags, &program, &length))
        return NULL;
    struct sock_fprog fprog = {
        .len = (unsigned short)(length / sizeof(struct sock_filter)),
        .filter = (struct sock_filter *)program,
    };
    return result(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog));
}

static PyObject *native_filesystem_type(PyObject *self, PyObject *args) {
    const char *path;
    struct statfs info;
    int rc;
    if (!PyArg_ParseTuple(args, "y", &path))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = statfs(path, &info);
    Py_END_ALLOW_THREADS
    return rc < 0 ? result(rc) : PyLong_FromLong((long)info.f_type);
}

static PyObject *native_inotify_init1(PyObject *self, PyObject *args) {
    int flags;
    if (!PyArg_ParseTuple(args, "i", &flags))
        return NULL;
    return result(inotify_init1(flags));
}

static PyObject *native_inotify_add_watch(PyObject *self, PyObject *args) {
    int fd;
    const char *path;
    unsigned int mask;
    if (!PyArg_ParseTuple(args, "iyI", &fd, &path, &mask))
        return NULL;
    return result(inotify_add_watch(fd, path, mask));
}

/* bpf(2) with a union bpf_attr the caller packed into a writable buffer (the kernel writes
 * answers into it, e.g. BPF_PROG_QUERY's count). */
static PyObject *native_bpf(PyObject *self, PyObject *args) {
    int cmd;
    Py_buffer attr;
    if (!PyArg_ParseTuple(args, "iw*", &cmd, &attr))
        return NULL;
    long rc = syscall(SYS_bpf, cmd, attr.buf, (unsigned int)attr.len);
    PyObject *answer = result(rc);
    PyBuffer_Release(&attr);
    return answer;
}

static PyMethodDef methods[] = {
    {"mount", native_mount, METH_VARARGS, "mount(source, target, fstype, flags, data) -> 0 or -errno"},
    {"umount2", native_umount2, METH_VARARGS, "umount2(target, flags) -> 0 or -errno"},
    {"unshare", native_unshare, METH_VARARGS, "unshare(flags) -> 0 or -errno"},
    {"setns", native_setns, METH_VARARGS, "setns(fd, nstype) -> 0 or -errno"},
    {"pivot_root", native_pivot_root, METH_VARARGS, "pivot_root(new_root, put_old) -> 0 or -errno"},
    {"sethostname", native_sethostname, METH_VARARGS, "sethostname(name) -> 0 or -errno"},
    {"setdomainname", native_setdomainname, METH_VARARGS, "setdomainname(name) -> 0 or -errno"},
    {"prctl", native_prctl, METH_VARARGS, "prctl(option, arg2=0, arg3=0, arg4=0, arg5=0) -> result or -errno"},
    {"clone3", native_clone3, METH_VARARGS, "clone3(namespaces, cgroup_fd or -1) -> pid, 0 in the child, or -errno"},
    {"close_range", native_close_range, METH_VARARGS, "close_range(first, last, flags) -> 0 or -errno"},
    {"capset", native_capset, METH_VARARGS, "capset(effective, permitted, inheritable) -> 0 or -errno"},
    {"seccomp_set_filter", native_seccomp_set_filter, METH_VARARGS,
     "seccomp_set_filter(flags, program) -> 0, a thread id (TSYNC) or -errno"},
    {"filesystem_type", native_filesystem_type, METH_VARARGS, "filesystem_type(path) -> statfs f_type or -errno"},
    {"inotify_init1", native_inotify_init1, METH_VARARGS, "inotify_init1(flags) -> fd or -errno"},
    {"inotify_add_watch", native_inotify_add_watch, METH_VARARGS, "inotify_add_watch(fd, path, mask) -> wd or -errno"},
    {"bpf", native_bpf, METH_VARARGS, "bpf(cmd, attr) -> result or -errno"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "dockyard.kernel._native", "System calls for kernel/libc.py.", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void) {
    return PyModule_Create(&module);
}
