#include "xfmr/tokenizers/tokenizer.h"

#include "xfmr/core/check.h"
#include "xfmr/tokenizers/char.h"

namespace xfmr::tok {

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  return std::make_unique<CharTokenizer>(CharTokenizer::load(path));
}

}  // namespace xfmr::tok
