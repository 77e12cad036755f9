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

// tests/reference/hf_export_check.py on the folder `dir` xfmr wrote: names, shapes and config keys as HF
// transformers expects them (its "problems" must be empty), then HF's forward re-implemented on the tensors
// by name against model.forward(ids), and n_new greedy tokens after `prompt` against model's own greedy loop.
inline void expect_hf_export_matches(const models::CausalLM& model, const std::string& dir, const Tensor& ids,
                                     const std::vector<int64_t>& prompt, int64_t n_new, double tol = 1e-4) {
  nlohmann::json req;
  req["model_dir"] = dir;
  req["ids"] = ids_rows(ids);
  req["prompt"] = prompt;
  req["n_new"] = n_new;
  const nlohmann::json reply = call_python_oracle("hf_export_check.py", req);
  if (reply.is_null()) return;
  ASSERT_TRUE(reply["problems"].empty()) << reply["problems"].dump(1);
  NoGradGuard ng;
  const Tensor logits = model.forward(ids);
  const std::vector<double> ref = reply["logits"]["data"].get<std::vector<double>>();
  ASSERT_EQ(static_cast<size_t>(logits.numel()), ref.size());
  const double err = max_rel_error(logits.to_vector(), ref);
  EXPECT_LT(err, tol) << "logits differ from the HF-layout forward (max-norm relative error " << err << ")";
  std::vector<int64_t> seq = prompt;
  for (int64_t i = 0; i < n_new; ++i) {
    std::vector<double> row(seq.begin(), seq.end());
    const Tensor x =
        Tensor::from_vector(std::span<const double>(row), {1, static_cast<int64_t>(seq.size())}, DType::i64);
    const std::vector<double> l = model.forward(x).to_vector();
    const int64_t V = model.vocab_size(), off = (static_cast<int64_t>(seq.size()) - 1) * V;
    int64_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (l[off + v] > l[off + best]) best = v;
    seq.push_back(best);
  }
  EXPECT_EQ(std::vector<int64_t>(seq.begin() + static_cast<int64_t>(prompt.size()), seq.end()),
            reply["greedy"].get<std::vector<int64_t>>());
}

}  // namespace xfmr::test
