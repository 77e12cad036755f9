// Probes: on von Oswald et al.'s one-step GD construction the matching finds exactly one GD step and the
// prediction cosine with that GD is 1; on a small GPT every layer gets a read-out curve and a match.
#include <gtest/gtest.h>

#include "xfmr/baselines/gradient_descent.h"
#include "xfmr/models/lsa.h"
#include "xfmr/ops/view.h"
#include "xfmr/run/icl_probe.h"

using namespace xfmr;

namespace {

IclConfig small_config(const std::string& kind) {
  IclConfig c;
  c.task.d = 4;
  c.task.n_points = 9;
  c.task.curriculum_dims_start = 2;
  c.task.curriculum_points_start = 5;
  c.model.kind = kind;
  c.model.n_layer = kind == "lsa" ? 1 : 2;
  c.model.n_head = kind == "lsa" ? 1 : 2;
  c.model.n_embd = 16;
  c.model.n_loops = 3;
  c.eval.gd_steps = 1;
  c.validate();
  return c;
}

IclProbeOptions small_options() {
  IclProbeOptions o;
  o.prompts = 300;
  o.max_gd_steps = 16;
  o.max_newton = 4;
  return o;
}

}  // namespace

TEST(IclProbe, GdConstructionMatchesOneGdStep) {
  const IclConfig cfg = small_config("lsa");
  const IclProbeOptions opt = small_options();
  // The probe tunes GD's step size for eval.gd_steps = 1 on the first 256 prompts A: build the LSA with it.
  Generator ga(opt.seed);
  const IclBatch A = sample_icl_task(cfg.task.params(), opt.prompts, cfg.task.n_points, cfg.task.d, cfg.task.d, ga);
  const IclBatch A256{contiguous(slice(A.xs, 0, 0, 256)), contiguous(slice(A.ys, 0, 0, 256)),
                      contiguous(slice(A.w, 0, 0, 256))};
  const double eta = tune_gd_step_size(1, A256).eta;
  Generator init(0);
  IclModel model(cfg, init);
  ASSERT_NE(model.lsa(), nullptr);
  models::set_gd_construction(*model.lsa(), eta);
  const auto pr = icl_probes(cfg, model, opt);
  EXPECT_EQ(pr["gd_eta"].get<double>(), eta);
  ASSERT_EQ(pr["match"].size(), 1u);  // lsa: no hidden states, only the output
  const auto& out = pr["match"][0];
  EXPECT_EQ(out["layer"], "output");
  EXPECT_EQ(out["best_gd_steps"], 1);
  EXPECT_GT(out["gd_similarity"].get<double>(), 0.99999);
  const auto& cos = pr["prediction_cosine"]["gd1"];
  ASSERT_EQ(cos.size(), 9u);
  EXPECT_TRUE(cos[0].is_null());
  for (size_t k = 1; k < 9; ++k) EXPECT_NEAR(cos[k].get<double>(), 1.0, 1e-5) << k;
  // GD with more steps matches worse than one step.
  EXPECT_LT(out["gd_similarity_curve"][3].get<double>(), out["gd_similarity"].get<double>());
}

TEST(IclProbe, EveryLayerOfEachKindGetsAReadoutAndAMatch) {
  for (const char* kind : {"gpt", "looped", "algoformer", "lstm"}) {
    SCOPED_TRACE(kind);
    const IclConfig cfg = small_config(kind);
    Generator init(1);
    IclModel model(cfg, init);
    IclProbeOptions opt = small_options();
    opt.prompts = 100;
    const auto pr = icl_probes(cfg, model, opt);
    const auto& layers = pr["layers"];
    ASSERT_GE(layers.size(), 2u);
    EXPECT_EQ(layers[0], "embed");
    EXPECT_EQ(pr["match"].size(), layers.size() + 1);  // + the output
    for (const auto& l : layers) {
      const auto& e = pr["readout_error"][l.get<std::string>()];
      ASSERT_EQ(e.size(), 9u);
      for (const auto& v : e) EXPECT_TRUE(v.is_number() && v.get<double>() >= 0);
    }
    const std::string html = render_probe_section(pr);
    EXPECT_NE(html.find("<section id=\"probes\">"), std::string::npos);
    EXPECT_NE(html.find("<svg"), std::string::npos);
  }
}

TEST(IclProbe, BadOptions) {
  IclProbeOptions o;
  o.prompts = 1;
  EXPECT_THROW(o.validate(), Error);
  o = {};
  o.max_gd_steps = 0;
  try {
    o.validate();
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--max-gd-steps"), std::string::npos) << e.what();
  }
}
