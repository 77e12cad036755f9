// LR schedules against their closed forms (schedule.h) at the boundaries and a few interior steps.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "support/errors.h"
#include "xfmr/core/check.h"
#include "xfmr/train/schedule.h"

using xfmr::test::error_of;

using namespace xfmr;

namespace {
}  // namespace

TEST(LrSchedule, Constant) {
  const LrSchedule s = LrSchedule::constant(3e-4);
  for (int64_t t : {0, 1, 100, 1000000}) EXPECT_EQ(s.lr_at(t), 3e-4);
  const LrSchedule w = LrSchedule::constant(1.0, 4);
  EXPECT_DOUBLE_EQ(w.lr_at(0), 0.25);
  EXPECT_DOUBLE_EQ(w.lr_at(1), 0.5);
  EXPECT_DOUBLE_EQ(w.lr_at(3), 1.0);
  EXPECT_DOUBLE_EQ(w.lr_at(4), 1.0);
  EXPECT_DOUBLE_EQ(w.lr_at(99999), 1.0);
}

TEST(LrSchedule, WarmupCosine) {
  const double lr = 6e-4, min_lr = 6e-5;
  const int64_t warmup = 10, total = 110;
  const LrSchedule s = LrSchedule::cosine(lr, warmup, total, min_lr);
  EXPECT_DOUBLE_EQ(s.lr_at(0), lr / 10);
  EXPECT_DOUBLE_EQ(s.lr_at(4), lr * 5 / 10);
  EXPECT_DOUBLE_EQ(s.lr_at(9), lr);
  EXPECT_DOUBLE_EQ(s.lr_at(10), lr);                   // start of the decay: cos(0) = 1
  EXPECT_NEAR(s.lr_at(60), (lr + min_lr) / 2, 1e-18);  // half-way: cos(pi/2) = 0
  const double r = 25.0 / 100.0;                       // step 35
  EXPECT_NEAR(s.lr_at(35), min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * r)), 1e-18);
  EXPECT_NEAR(s.lr_at(109), min_lr + (lr - min_lr) * 0.5 * (1 + std::cos(std::numbers::pi * 0.99)), 1e-18);
  EXPECT_EQ(s.lr_at(110), min_lr);
  EXPECT_EQ(s.lr_at(5000), min_lr);
  // Monotone non-increasing after warmup.
  for (int64_t t = warmup; t < total + 5; ++t) EXPECT_LE(s.lr_at(t + 1), s.lr_at(t)) << t;
  EXPECT_EQ(s.str(), "cosine(lr=0.0006, warmup=10, total=110, min_lr=6e-05)");
}

TEST(LrSchedule, WarmupLinear) {
  const LrSchedule s = LrSchedule::linear(1.0, 5, 25, 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(0), 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(4), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(5), 1.0);
  EXPECT_DOUBLE_EQ(s.lr_at(15), 0.6);  // r = 1/2
  EXPECT_DOUBLE_EQ(s.lr_at(20), 0.4);  // r = 3/4
  EXPECT_DOUBLE_EQ(s.lr_at(25), 0.2);
  EXPECT_DOUBLE_EQ(s.lr_at(26), 0.2);
  // No warmup, decay to zero.
  const LrSchedule z = LrSchedule::linear(2.0, 0, 4);
  EXPECT_DOUBLE_EQ(z.lr_at(0), 2.0);
  EXPECT_DOUBLE_EQ(z.lr_at(1), 1.5);
  EXPECT_DOUBLE_EQ(z.lr_at(3), 0.5);
  EXPECT_DOUBLE_EQ(z.lr_at(4), 0.0);
  // warmup == total: warm up, then straight to min_lr.
  const LrSchedule e = LrSchedule::cosine(1.0, 4, 4, 0.1);
  EXPECT_DOUBLE_EQ(e.lr_at(3), 1.0);
  EXPECT_DOUBLE_EQ(e.lr_at(4), 0.1);
}

TEST(LrSchedule, BadSettings) {
  EXPECT_NE(error_of([] { LrSchedule::cosine(1.0, 10, 5); }).find("warmup (10) exceeds total steps (5)"),
            std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::cosine(1.0, -1, 5); }).find("warmup must be >= 0"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::constant(1.0, -3); }).find("warmup must be >= 0"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::linear(1.0, 0, 0); }).find("total steps must be > 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::linear(1.0, 0, -7); }).find("total steps must be > 0"),
            std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::cosine(-1.0, 0, 5); }).find("lr must be"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::constant(NAN); }).find("lr must be"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::cosine(1.0, 0, 5, 2.0); }).find("min_lr"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::cosine(1.0, 0, 5, -0.1); }).find("min_lr"), std::string::npos);
  EXPECT_NE(error_of([] { LrSchedule::constant(1.0).lr_at(-1); }).find("step must be >= 0"),
            std::string::npos);
}
