// libFuzzer target: SentencePiece tokenizer.model (protobuf) and llama2.c tokenizer.bin parsers; a tokenizer that
// loads must also encode and decode a fixed text without failing.
#include <string_view>

#include "fuzz_util.h"
#include "xfmr/tokenizers/sentencepiece.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (int format = 0; format < 2; ++format) {
    xfmr::fuzz::expect_ok_or_error([&] {
      auto tok = format == 0 ? xfmr::tok::parse_sentencepiece_model(bytes, "fuzz input")
                             : xfmr::tok::parse_llama2c_tokenizer(bytes, "fuzz input");
      const auto ids = tok->encode("Once upon a time, \xc3\xa9t\xc3\xa9 \xff!", true);
      (void)tok->decode(ids);
    });
  }
  return 0;
}
