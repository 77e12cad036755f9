// Shared helpers of the GPT-2 / Llama tests: token ids, the plain-PyTorch oracle and temp folders.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/python_oracle.h"
#include "xfmr/core/autograd.h"
#include "xfmr/models/causal_lm.h"

namespace xfmr::test {

inline std::string lm_temp_dir(const std::string& tag) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("xfmr_lm_" + tag + "_XXXXXX")).string();
  return mkdtemp(tmpl.data());
}

// Deterministic ids [B, T] in [0, V).
inline Tensor lm_ids(int64_t B, int64_t T, int64_t V, uint64_t seed = 3) {
  Generator g(seed);
  return randint(0, V, {B, T}, DType::i64, g);
}

inline std::vector<std::vector<int64_t>> ids_rows(const Tensor& ids) {
  std::vector<std::vector<int64_t>> rows;
  const std::vector<double> v = ids.to_vector();
  for (int64_t b = 0; b < ids.size(0); ++b) {
    rows.emplace_back();
    for (int64_t t = 0; t < ids.size(1); ++t) rows.back().push_back(static_cast<int64_t>(v[b * ids.size(1) + t]));
  }
  return rows;
}

// Logits of tests/reference/torch_lm_ref.py (float64) for the HF folder `dir`, compared with model.forward(ids).
inline void expect_logits_match_torch(const models::CausalLM& model, const std::string& dir, const Tensor& ids,
                                      double tol = 1e-4) {
  nlohmann::json req;
  req["model_dir"] = dir;
  req["ids"] = ids_rows(ids);
  const nlohmann::json reply = call_python_oracle("torch_lm_ref.py", req);
  if (reply.is_null()) return;
  NoGradGuard ng;
  const Tensor logits = model.forward(ids);
  const auto& shape = reply["logits"]["shape"];
  ASSERT_EQ(shape.size(), 3u);
  EXPECT_EQ(logits.shape(), (Shape{shape[0].get<int64_t>(), shape[1].get<int64_t>(), shape[2].get<int64_t>()}));
  const std::vector<double> ref = reply["logits"]["data"].get<std::vector<double>>();
  const double err = max_rel_error(logits.to_vector(), ref);
  EXPECT_LT(err, tol) << "logits differ from the PyTorch forward (max-norm relative error " << err << ")";
}

}  // namespace xfmr::test
