// A kernel timeline for machines without Nsight Systems: a CUDA injection library (CUDA_INJECTION64_PATH) that turns
// on CUPTI's concurrent-kernel activity records, which time every kernel on the GPU, also each node of a replayed CUDA
// graph, without serializing kernels. At exit it writes KTRACE_CSV in the columns of `nsys stats --report
// cuda_gpu_trace` that profile-decode.sh reads: start and duration in ns and the demangled kernel name.
// Build: kernel-trace/build.sh. Kernel records are CUPTI's newest CUpti_ActivityKernelN, named by KTRACE_RECORD.
#include <cupti.h>
#include <cxxabi.h>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
FILE* out = nullptr;
constexpr size_t kBufferBytes = 16 << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = kBufferBytes;
  *max_records = 0;
}

std::string demangled(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : name;
  std::free(d);
  for (char& c : s)
    if (c == '"' || c == ',') c = c == '"' ? '\'' : ';';  // one CSV field
  return s;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    const auto* k = reinterpret_cast<const KTRACE_RECORD*>(record);
    std::fprintf(out, "%llu,%llu,\"%s\"\n", (unsigned long long)k->start, (unsigned long long)(k->end - k->start), demangled(k->name).c_str());
  }
  std::free(buffer);
}

void flush_at_exit() {
  cuptiActivityFlushAll(1);
  std::fclose(out);
}
}  // namespace

extern "C" int InitializeInjection() {
  const char* path = std::getenv("KTRACE_CSV");
  if (!path || !(out = std::fopen(path, "w"))) {
    std::fprintf(stderr, "ktrace: set KTRACE_CSV to a writable file\n");
    return 0;
  }
  std::fprintf(out, "Start (ns),Duration (ns),Name\n");
  if (cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed) != CUPTI_SUCCESS ||
      cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) != CUPTI_SUCCESS) {
    std::fprintf(stderr, "ktrace: CUPTI refused the kernel activity records\n");
    return 0;
  }
  std::atexit(flush_at_exit);
  return 1;
}
