#include "edgeloop/runtime/x86/cpu_features.h"

#include <cpuinfo.h>

namespace edgeloop::runtime::x86 {
namespace {

struct Features {
  bool avx2 = false;
  bool avx512vnni = false;
};

Features detect() {
  Features f;
  // Without cpuinfo's data we know nothing: the portable kernels run everywhere.
  if (!cpuinfo_initialize()) return f;
  f.avx2 = cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3();
  f.avx512vnni = f.avx2 && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() && cpuinfo_has_x86_avx512vl() &&
                 cpuinfo_has_x86_avx512vnni();
  return f;
}

const Features& features() {
  static const Features f = detect();  // thread-safe one-time initialization
  return f;
}

}  // namespace

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return true;
    case Isa::kAvx2: return features().avx2;
    case Isa::kAvx512Vnni: return features().avx512vnni;
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::kAvx512Vnni)) return Isa::kAvx512Vnni;
  if (isa_supported(Isa::kAvx2)) return Isa::kAvx2;
  return Isa::kPortable;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::kPortable: return "portable";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512Vnni: return "avx512vnni";
  }
  return "unknown";
}

}  // namespace edgeloop::runtime::x86
