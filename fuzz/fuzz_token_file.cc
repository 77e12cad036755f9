// libFuzzer target: xfmr's memory-mapped token files (header, dtype, count vs size, ids vs vocabulary).
#include "fuzz_util.h"
#include "xfmr/tasks/text_data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = xfmr::fuzz::write_temp(data, size, ".bin");
  xfmr::fuzz::expect_ok_or_error([&] {
    xfmr::text::TokenFile f(path);
    (void)f.read_all();
  });
  return 0;
}
