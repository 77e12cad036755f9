// libFuzzer target: Llama checkpoints, GGUF (header, metadata of every type, tensor infos, alignment, offsets,
// llama keys and tensor shapes, tokenizer metadata) and llama2.c .bin (header vs file size). A file that loads
// must also give a tokenizer or a clean error.
#include "fuzz_util.h"
#include "xfmr/infer/model_tokenizer.h"
#include "xfmr/io/gguf.h"
#include "xfmr/io/llama_gguf.h"
#include "xfmr/io/llama_weights.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = xfmr::fuzz::write_temp(data, size, ".model");
  xfmr::fuzz::expect_ok_or_error([&] {
    const auto w = xfmr::io::load_llama_weights(path);  // GGUF or llama2.c, by the first bytes
    (void)w;
  });
  if (size >= 4 && data[0] == 'G' && data[1] == 'G' && data[2] == 'U' && data[3] == 'F') {
    xfmr::fuzz::expect_ok_or_error([&] {
      const xfmr::io::GgufFile f(path);
      const auto tok = xfmr::infer::tokenizer_from_gguf(f);
      (void)tok->decode(tok->encode("Once upon a time", true));
    });
  }
  return 0;
}
