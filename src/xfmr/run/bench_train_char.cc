#include "xfmr/run/bench_train_char.h"

#include <cstdlib>

#include "xfmr/core/check.h"
#include "xfmr/core/parallel.h"
#include "xfmr/core/rng.h"
#include "xfmr/kernels/cpu/gemm_blas.h"
#include "xfmr/models/gpt.h"
#include "xfmr/ops/loss.h"
#include "xfmr/ops/view.h"
#include "xfmr/run/bench.h"
#include "xfmr/run/bench_cost.h"
#include "xfmr/train/clip.h"
#include "xfmr/train/optimizer.h"

namespace xfmr {

namespace {

void pick(int64_t& field, int64_t given, const char* name) {
  if (given < 0) return;
  XF_CHECK(given > 0, "bench: --", name, " must be positive, got ", given);
  field = given;
}

}  // namespace

nlohmann::ordered_json bench_train_char(const TrainCharBench& opt) {
  models::GptConfig mc;
  int64_t batch = 12;
  mc.vocab_size = 65;
  mc.bias = true;
  mc.gelu = GeluApprox::none;  // nanoGPT's exact GELU, as the peer
  if (opt.preset == "shakespeare") {
    mc.n_layer = 6, mc.n_head = 6, mc.n_embd = 384, mc.block_size = 256;
  } else if (opt.preset == "tiny") {
    mc.n_layer = 4, mc.n_head = 4, mc.n_embd = 128, mc.block_size = 128;
  } else {
    throw Error("bench train-char: unknown preset '" + opt.preset + "' (known: shakespeare, tiny)");
  }
  pick(mc.n_layer, opt.n_layer, "n_layer");
  pick(mc.n_head, opt.n_head, "n_head");
  pick(mc.n_embd, opt.n_embd, "n_embd");
  pick(mc.block_size, opt.block, "block");
  pick(batch, opt.batch, "batch");
  pick(mc.vocab_size, opt.vocab, "vocab");
  XF_CHECK(opt.dropout >= 0 && opt.dropout < 1, "bench: --dropout must be in [0, 1), got ", opt.dropout);
  mc.dropout = opt.dropout;
  XF_CHECK(opt.steps >= 1 && opt.warmup >= 0, "bench: --steps must be >= 1 and --warmup >= 0");
  XF_CHECK(opt.lr > 0, "bench: --lr must be positive");
  mc.validate();

  const MatmulPrecision old_precision = matmul_precision();
  set_matmul_precision(parse_matmul_precision(opt.precision, "bench: --precision"));
  struct Restore {
    MatmulPrecision p;
    ~Restore() { set_matmul_precision(p); }
  } restore{old_precision};
  const double baseline_rss = current_rss_mb();
  Generator init(opt.seed), data(opt.seed + 1), drop(opt.seed + 2);
  models::Gpt model(mc, init);
  model.train();
  const std::vector<Tensor> params = model.parameters();
  AdamW adamw(model.named_parameters(), opt.lr, 0.9, 0.99, 1e-8, 0.1);
  const int64_t T = mc.block_size;
  Tensor seq = Tensor::empty({batch, T + 1}, DType::i64);
  auto step = [&] {
    randint_(seq, 0, mc.vocab_size, data);
    const Tensor x = contiguous(slice(seq, 1, 0, T)), y = contiguous(slice(seq, 1, 1, T + 1));
    adamw.zero_grad();
    Tensor loss = cross_entropy(model.forward(x, &drop), y);
    loss.backward();
    clip_grad_norm(params, 1.0);
    adamw.step();
    return loss.item();
  };
  const StepTimes t = time_steps(opt.steps, opt.warmup, step);

  nlohmann::ordered_json j;
  j["bench"] = "xfmr_char_gpt";
  j["preset"] = opt.preset;
  j["n_layer"] = mc.n_layer;
  j["n_head"] = mc.n_head;
  j["n_embd"] = mc.n_embd;
  j["block"] = mc.block_size;
  j["batch"] = batch;
  j["vocab"] = mc.vocab_size;
  j["dropout"] = mc.dropout;
  j["threads"] = num_threads();
  j["omp_wait_policy"] = std::getenv("OMP_WAIT_POLICY") ? std::getenv("OMP_WAIT_POLICY") : "unset";
  j["precision"] = matmul_precision_name(effective_matmul_precision());
  // nanoGPT's count (the peer's field): all parameters but the position embedding
  j["params_non_embedding_pos"] = model.num_parameters() - mc.block_size * mc.n_embd;
  j["params"] = model.num_parameters();
  add_step_fields(j, t, opt.warmup, opt.steps, static_cast<double>(batch * T));
  GptShape shape;
  shape.batch = batch, shape.seq = T, shape.n_layer = mc.n_layer, shape.n_head = mc.n_head, shape.n_embd = mc.n_embd;
  shape.in_features = 0, shape.out_features = mc.vocab_size, shape.params = model.num_parameters();
  add_cost_fields(j, shape, t.step_ms, baseline_rss);
  return j;
}

}  // namespace xfmr
