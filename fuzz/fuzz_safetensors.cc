// libFuzzer target: safetensors files (header length, JSON header, dtypes, shapes, data offsets).
#include "fuzz_util.h"
#include "xfmr/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = xfmr::fuzz::write_temp(data, size, ".safetensors");
  xfmr::fuzz::expect_ok_or_error([&] {
    const auto f = xfmr::io::load_safetensors(path);
    (void)f;
  });
  return 0;
}
