// Runs a test with the plain-loop kernels an AVX2-only CPU gets (kernels/cpu/cpu_features.h) while in scope,
// restoring the CPU's own kernels at the end even when an assertion returns early.
#pragma once
#include "xfmr/kernels/cpu/cpu_features.h"

namespace xfmr::test {

class GenericIsaScope {
 public:
  explicit GenericIsaScope(bool generic) { kernels::force_generic_isa_for_testing(generic); }
  ~GenericIsaScope() { kernels::force_generic_isa_for_testing(false); }
  GenericIsaScope(const GenericIsaScope&) = delete;
  GenericIsaScope& operator=(const GenericIsaScope&) = delete;
};

}  // namespace xfmr::test
