/*
 * fake_nvml.c: a stand-in for libnvidia-ml.so.1, so the real pynvml code runs on a host
 * with no NVIDIA GPU. tests/gpu_sim/__init__.py builds it:
 *
 *     gcc -shared -fPIC -O2 -Wall -Wextra -Werror -Wl,-soname,libnvidia-ml.so.1 \
 *         -o libnvidia-ml.so.1 fake_nvml.c -lpthread
 *
 * Devices come from the file named by $FAKE_NVML_STATE. It is read again on every call,
 * so a test can change the numbers (write a temp file, rename it over the old one) while
 * another process polls. No variable or no file: nvmlInit* returns
 * NVML_ERROR_DRIVER_NOT_LOADED, which is what a host without the driver says.
 *
 * State file: one record per line; blank lines and lines starting with '#' are skipped.
 *
 *     driver 550.54.15
 *     gpu UUID "NAME" total=BYTES used=BYTES util=PCT temp=CELSIUS power=MILLIWATTS
 *         [procs=notsupported] [name=unknown] [state=ok|lost|unknown]  (all on one line)
 *     proc UUID pid=PID used=BYTES|na [kind=compute|graphics]
 *
 * - gpu keys may come in any order; a missing one reads as 0. Each numeric key may be
 *   `notsupported`: its query returns NVML_ERROR_NOT_SUPPORTED (total or used: the
 *   memory query), or `unknown`: NVML_ERROR_UNKNOWN, as a failing sensor does; so does
 *   the name query with name=unknown. free = total - used.
 * - state=lost: every call on that GPU, handle look-ups included, returns
 *   NVML_ERROR_GPU_IS_LOST, as for a GPU that fell off the bus; state=unknown returns
 *   NVML_ERROR_UNKNOWN. Lost GPUs still count in nvmlDeviceGetCount, as in real NVML.
 * - proc lines name their GPU by UUID, after its gpu line. used=na reports
 *   NVML_VALUE_NOT_AVAILABLE (pynvml turns it into None). kind defaults to compute.
 * - No driver line: nvmlSystemGetDriverVersion returns NVML_ERROR_NOT_SUPPORTED.
 * A malformed line is printed to stderr and makes every call return NVML_ERROR_UNKNOWN,
 * so a broken test fixture cannot pass for an empty host.
 *
 * The symbols are those pynvml looks up for what gpuagent reads, plus a few neighbours
 * (temperature, power, look-up by UUID). The unversioned nvmlDeviceGet*RunningProcesses
 * (v1) are left out on purpose: their struct is smaller than v2/v3's, and pynvml calls
 * the _v3 names.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999,
};
enum { NVML_TEMPERATURE_GPU = 0 };
#define NVML_VALUE_NOT_AVAILABLE_ULL (~0ULL)
#define NVML_VALUE_NOT_AVAILABLE_UINT (~0U)
/* nvml.h: NVML_STRUCT_VERSION(Memory, 2) = sizeof(nvmlMemory_v2_t) | 2 << 24 */
#define NVML_MEMORY_V2 0x02000028U

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
/* pynvml's c_nvmlProcessInfo_v2_t (and _v3_t, the same class): 4 bytes of padding after pid. */
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "must match pynvml's c_nvmlProcessInfo_v3_t");
_Static_assert((sizeof(nvmlMemory_v2_t) | 2U << 24) == NVML_MEMORY_V2, "nvmlMemory_v2 layout");

enum { MAX_GPUS = 16, MAX_PROCS = 32, TEXT = 96, LINE = 512 };

struct field {
    nvmlReturn_t error; /* NVML_SUCCESS, or what its query returns */
    unsigned long long value;
};

struct proc {
    unsigned int pid;
    unsigned long long used;
    int graphics;
};

struct gpu {
    char uuid[TEXT], name[TEXT];
    struct field total, used, util, temp, power;
    int procs_supported;
    nvmlReturn_t name_error;
    nvmlReturn_t fault; /* NVML_SUCCESS, or what every call on this GPU returns */
    unsigned int nprocs;
    struct proc procs[MAX_PROCS];
};

static struct {
    char driver[TEXT];
    unsigned int ngpus;
    struct gpu gpus[MAX_GPUS];
} state;
static unsigned int init_count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the state file ---------------------------------------------------------------- */

static int parse_number(const char *text, unsigned long long *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return 0;
    *out = strtoull(text, &end, 10);
    return *end == '\0';
}

static int parse_field(const char *text, struct field *out)
{
    out->error = strcmp(text, "notsupported") == 0 ? NVML_ERROR_NOT_SUPPORTED
               : strcmp(text, "unknown") == 0      ? NVML_ERROR_UNKNOWN
                                                   : NVML_SUCCESS;
    return out->error != NVML_SUCCESS || parse_number(text, &out->value);
}

static int parse_gpu_key(void *target, const char *key, const char *value)
{
    struct gpu *g = target;
    static const struct { const char *key; size_t offset; } fields[] = {
        {"total", offsetof(struct gpu, total)}, {"used", offsetof(struct gpu, used)},
        {"util", offsetof(struct gpu, util)},   {"temp", offsetof(struct gpu, temp)},
        {"power", offsetof(struct gpu, power)},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(key, fields[i].key) == 0)
            return parse_field(value, (struct field *)((char *)g + fields[i].offset));
    if (strcmp(key, "name") == 0 && strcmp(value, "unknown") == 0) {
        g->name_error = NVML_ERROR_UNKNOWN;
        return 1;
    }
    if (strcmp(key, "procs") == 0 && strcmp(value, "notsupported") == 0) {
        g->procs_supported = 0;
        return 1;
    }
    if (strcmp(key, "state") == 0) {
        if (strcmp(value, "ok") == 0)
            g->fault = NVML_SUCCESS;
        else if (strcmp(value, "lost") == 0)
            g->fault = NVML_ERROR_GPU_IS_LOST;
        else if (strcmp(value, "unknown") == 0)
            g->fault = NVML_ERROR_UNKNOWN;
        else
            return 0;
        return 1;
    }
    return 0;
}

static int parse_proc_key(void *target, const char *key, const char *value)
{
    struct proc *p = target;
    unsigned long long number;
    if (strcmp(key, "pid") == 0 && parse_number(value, &number) && number <= 0xffffffffULL)
        p->pid = (unsigned int)number;
    else if (strcmp(key, "used") == 0 && strcmp(value, "na") == 0)
        p->used = NVML_VALUE_NOT_AVAILABLE_ULL;
    else if (strcmp(key, "used") == 0 && parse_number(value, &number))
        p->used = number;
    else if (strcmp(key, "kind") == 0 && strcmp(value, "compute") == 0)
        p->graphics = 0;
    else if (strcmp(key, "kind") == 0 && strcmp(value, "graphics") == 0)
        p->graphics = 1;
    else
        return 0;
    return 1;
}

/* Splits "k=v k=v ..." in place and hands each pair to parse_key. */
static int parse_keys(char *text, int (*parse_key)(void *, const char *, const char *), void *target)
{
    char *save, *word;
    for (word = strtok_r(text, " \t\r\n", &save); word; word = strtok_r(NULL, " \t\r\n", &save)) {
        char *eq = strchr(word, '=');
        if (!eq)
            return 0;
        *eq = '\0';
        if (!parse_key(target, word, eq + 1))
            return 0;
    }
    return 1;
}

static struct gpu *find_gpu(const char *uuid)
{
    for (unsigned int i = 0; i < state.ngpus; i++)
        if (strcmp(state.gpus[i].uuid, uuid) == 0)
            return &state.gpus[i];
    return NULL;
}

static int parse_line(char *line)
{
    char word[16], uuid[TEXT];
    int rest = -1;
    if (sscanf(line, " %15s", word) != 1 || word[0] == '#')
        return 1;
    if (strcmp(word, "driver") == 0)
        return sscanf(line, " driver %95s", state.driver) == 1;
    if (strcmp(word, "gpu") == 0) {
        if (state.ngpus == MAX_GPUS)
            return 0;
        struct gpu *g = &state.gpus[state.ngpus++];
        memset(g, 0, sizeof *g); /* every query succeeds (NVML_SUCCESS is 0) */
        g->procs_supported = 1;
        if (sscanf(line, " gpu %95s \"%95[^\"]\"%n", g->uuid, g->name, &rest) != 2 || rest < 0)
            return 0;
        return parse_keys(line + rest, parse_gpu_key, g);
    }
    if (strcmp(word, "proc") == 0) {
        if (sscanf(line, " proc %95s%n", uuid, &rest) != 1 || rest < 0)
            return 0;
        struct gpu *g = find_gpu(uuid);
        if (!g || g->nprocs == MAX_PROCS)
            return 0;
        struct proc *p = &g->procs[g->nprocs++];
        memset(p, 0, sizeof *p);
        return parse_keys(line + rest, parse_proc_key, p);
    }
    return 0;
}

static nvmlReturn_t load_state(void)
{
    const char *path = getenv("FAKE_NVML_STATE");
    FILE *file = path ? fopen(path, "r") : NULL;
    char line[LINE];
    nvmlReturn_t ret = NVML_SUCCESS;
    if (!file)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    memset(&state, 0, sizeof state);
    for (unsigned int number = 1; ret == NVML_SUCCESS && fgets(line, sizeof line, file); number++) {
        char copy[LINE];
        strcpy(copy, line);
        if (!parse_line(line)) {
            fprintf(stderr, "fake_nvml: %s:%u: bad line: %s", path, number, copy);
            ret = NVML_ERROR_UNKNOWN;
        }
    }
    fclose(file);
    return ret;
}

/* ---- shared plumbing ----------------------------------------------------------------- */

/* The state as of now, for a caller holding the lock. */
static nvmlReturn_t refresh(void)
{
    return init_count ? load_state() : NVML_ERROR_UNINITIALIZED;
}

/* Handles are 1-based indexes dressed as pointers: callers never look inside them. */
static nvmlReturn_t read_device(nvmlDevice_t device, struct gpu *out)
{
    uintptr_t index = (uintptr_t)device - 1;
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = refresh();
    if (ret == NVML_SUCCESS && index >= state.ngpus)
        ret = NVML_ERROR_INVALID_ARGUMENT;
    if (ret == NVML_SUCCESS) {
        *out = state.gpus[index];
        ret = out->fault;
    }
    pthread_mutex_unlock(&lock);
    return ret;
}

static nvmlReturn_t read_field(nvmlDevice_t device, size_t offset, unsigned long long *value)
{
    struct gpu g;
    nvmlReturn_t ret = read_device(device, &g);
    const struct field *f = (const struct field *)((const char *)&g + offset);
    if (ret == NVML_SUCCESS)
        ret = f->error;
    if (ret == NVML_SUCCESS)
        *value = f->value;
    return ret;
}

static nvmlReturn_t copy_text(char *buffer, unsigned int length, const char *text)
{
    if (!buffer)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(text) >= length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buffer, text);
    return NVML_SUCCESS;
}

/* ---- init and system ------------------------------------------------------------------ */

nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = load_state();
    if (ret == NVML_SUCCESS)
        init_count++;
    pthread_mutex_unlock(&lock);
    return ret;
}

nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }
nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

nvmlReturn_t nvmlShutdown(void)
{
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = init_count ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED;
    if (init_count)
        init_count--;
    pthread_mutex_unlock(&lock);
    return ret;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    default: return "Unknown Error";
    }
}

static nvmlReturn_t system_text(char *buffer, unsigned int length, const char *prefix)
{
    char text[2 * TEXT];
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = refresh();
    if (ret == NVML_SUCCESS && !state.driver[0])
        ret = NVML_ERROR_NOT_SUPPORTED;
    snprintf(text, sizeof text, "%s%s", prefix, state.driver);
    pthread_mutex_unlock(&lock);
    return ret == NVML_SUCCESS ? copy_text(buffer, length, text) : ret;
}

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    return system_text(version, length, "");
}

/* Real NVML says the CUDA major version in front of the driver's. */
nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    return system_text(version, length, "12.");
}

/* ---- finding devices -------------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count)
{
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = refresh();
    if (ret == NVML_SUCCESS)
        *count = state.ngpus;
    pthread_mutex_unlock(&lock);
    return ret;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *count) { return nvmlDeviceGetCount_v2(count); }

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    struct gpu g;
    if (!device)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_device((nvmlDevice_t)(uintptr_t)(index + 1), &g);
    if (ret == NVML_SUCCESS)
        *device = (nvmlDevice_t)(uintptr_t)(index + 1);
    return ret;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_lock(&lock);
    nvmlReturn_t ret = refresh();
    struct gpu *g = ret == NVML_SUCCESS ? find_gpu(uuid) : NULL;
    if (ret == NVML_SUCCESS)
        ret = g ? g->fault : NVML_ERROR_NOT_FOUND;
    if (ret == NVML_SUCCESS)
        *device = (nvmlDevice_t)(uintptr_t)(g - state.gpus + 1);
    pthread_mutex_unlock(&lock);
    return ret;
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    struct gpu g;
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_device(device, &g);
    if (ret == NVML_SUCCESS)
        *index = (unsigned int)((uintptr_t)device - 1);
    return ret;
}

/* ---- what a device says ----------------------------------------------------------------- */

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    struct gpu g;
    nvmlReturn_t ret = read_device(device, &g);
    return ret == NVML_SUCCESS ? copy_text(uuid, length, g.uuid) : ret;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    struct gpu g;
    nvmlReturn_t ret = read_device(device, &g);
    if (ret == NVML_SUCCESS)
        ret = g.name_error;
    return ret == NVML_SUCCESS ? copy_text(name, length, g.name) : ret;
}

static nvmlReturn_t read_memory(nvmlDevice_t device, unsigned long long *total,
                                unsigned long long *used)
{
    nvmlReturn_t ret = read_field(device, offsetof(struct gpu, total), total);
    return ret == NVML_SUCCESS ? read_field(device, offsetof(struct gpu, used), used) : ret;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    unsigned long long total, used;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_memory(device, &total, &used);
    if (ret == NVML_SUCCESS)
        *memory = (nvmlMemory_t){.total = total, .used = used, .free = used < total ? total - used : 0};
    return ret;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    unsigned long long total, used;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != NVML_MEMORY_V2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlReturn_t ret = read_memory(device, &total, &used);
    if (ret == NVML_SUCCESS)
        *memory = (nvmlMemory_v2_t){.version = NVML_MEMORY_V2, .total = total, .used = used,
                                    .free = used < total ? total - used : 0};
    return ret;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    unsigned long long gpu;
    if (!utilization)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_field(device, offsetof(struct gpu, util), &gpu);
    if (ret == NVML_SUCCESS)
        *utilization = (nvmlUtilization_t){.gpu = (unsigned int)gpu, .memory = 0};
    return ret;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, int sensor, unsigned int *temperature)
{
    unsigned long long celsius;
    if (!temperature || sensor != NVML_TEMPERATURE_GPU)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_field(device, offsetof(struct gpu, temp), &celsius);
    if (ret == NVML_SUCCESS)
        *temperature = (unsigned int)celsius;
    return ret;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *milliwatts)
{
    unsigned long long power;
    if (!milliwatts)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_field(device, offsetof(struct gpu, power), &power);
    if (ret == NVML_SUCCESS)
        *milliwatts = (unsigned int)power;
    return ret;
}

/* NVML's two-call protocol: too small a buffer (or none) gets the count back with
 * NVML_ERROR_INSUFFICIENT_SIZE; no processes at all is a success with count 0. */
static nvmlReturn_t list_processes(nvmlDevice_t device, int graphics, unsigned int *count,
                                   nvmlProcessInfo_t *infos)
{
    struct gpu g;
    unsigned int found = 0;
    if (!count)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t ret = read_device(device, &g);
    if (ret == NVML_SUCCESS && !g.procs_supported)
        ret = NVML_ERROR_NOT_SUPPORTED;
    if (ret != NVML_SUCCESS)
        return ret;
    for (unsigned int i = 0; i < g.nprocs; i++)
        if (g.procs[i].graphics == graphics)
            g.procs[found++] = g.procs[i];
    if (found > *count || (found && !infos)) {
        *count = found;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (unsigned int i = 0; i < found; i++)
        infos[i] = (nvmlProcessInfo_t){
            .pid = g.procs[i].pid,
            .usedGpuMemory = g.procs[i].used,
            .gpuInstanceId = NVML_VALUE_NOT_AVAILABLE_UINT, /* not a MIG device */
            .computeInstanceId = NVML_VALUE_NOT_AVAILABLE_UINT,
        };
    *count = found;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    return list_processes(device, 0, count, infos);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *count,
                                                     nvmlProcessInfo_t *infos)
{
    return list_processes(device, 0, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *count,
                                                      nvmlProcessInfo_t *infos)
{
    return list_processes(device, 1, count, infos);
}

nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device, unsigned int *count,
                                                      nvmlProcessInfo_t *infos)
{
    return list_processes(device, 1, count, infos);
}
