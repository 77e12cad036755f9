// libFuzzer target: Hugging Face tokenizer.json (byte-level BPE) parser; a tokenizer that loads must also encode
// and decode a fixed text without failing.
#include <string>

#include "fuzz_util.h"
#include "xfmr/tokenizers/gpt2_bpe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  xfmr::fuzz::expect_ok_or_error([&] {
    auto tok = xfmr::tok::parse_hf_tokenizer_json(text, "fuzz input");
    const auto ids = tok->encode("Hello world's 123 \xe2\x82\xac \xff");
    (void)tok->decode(ids);
  });
  return 0;
}
