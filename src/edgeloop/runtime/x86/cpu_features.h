// Which x86 instruction sets this CPU (and its operating system) can run, for run-time dispatch
// of the x86 kernels. Only the ISA-specific kernel files are compiled with -mavx2/-mavx512*; the
// rest of the program runs on any x86-64, and asks here before calling into those files.
#pragma once

#include <string_view>

namespace edgeloop::runtime::x86 {

// Kernel families, slowest to fastest. The AVX2 kernels also need FMA3; the AVX-512 VNNI kernels
// need AVX-512 F, BW, VL and VNNI.
enum class Isa { kPortable, kAvx2, kAvx512Vnni };
inline constexpr Isa kAllIsas[] = {Isa::kPortable, Isa::kAvx2, Isa::kAvx512Vnni};

// True when this CPU and OS can run the kernels of `isa` (detected once, through cpuinfo, which
// also checks that the OS saves the vector registers). kPortable is always supported.
bool isa_supported(Isa isa);
// The fastest supported family.
Isa best_isa();
// "portable", "avx2", "avx512vnni".
std::string_view isa_name(Isa isa);

}  // namespace edgeloop::runtime::x86
