// Learning-rate schedules: an optional linear warmup, then constant, cosine decay or linear decay to min_lr.
// Steps count from 0 (the first optimizer step is step 0).
//
//   warmup   (step < warmup):           lr * (step + 1) / warmup        (llm.c; reaches lr at step warmup-1)
//   constant (step >= warmup):          lr
//   cosine   (warmup <= step < total):  min_lr + (lr - min_lr) * 0.5 * (1 + cos(pi * r)),
//                                       r = (step - warmup) / (total - warmup)
//            (Loshchilov & Hutter 2017, SGDR, one cycle without restarts; the nanoGPT schedule)
//   linear   (warmup <= step < total):  lr + (min_lr - lr) * r
//   decays   (step >= total):           min_lr
//
//   auto s = LrSchedule::cosine(6e-4, /*warmup=*/100, /*total=*/5000, /*min_lr=*/6e-5);
//   opt.lr = s.lr_at(step);
#pragma once
#include <cstdint>
#include <string>

namespace xfmr {

enum class LrDecay { constant, cosine, linear };

class LrSchedule {
 public:
  // All factories check their settings: lr >= 0 and finite, warmup >= 0, and for the decays total > 0,
  // warmup <= total and 0 <= min_lr <= lr. Violations are an xfmr::Error naming the setting.
  static LrSchedule constant(double lr, int64_t warmup = 0);
  static LrSchedule cosine(double lr, int64_t warmup, int64_t total, double min_lr = 0.0);
  static LrSchedule linear(double lr, int64_t warmup, int64_t total, double min_lr = 0.0);
  // The general form (the factories call it): `total` and `min_lr` are ignored for LrDecay::constant.
  LrSchedule(LrDecay decay, double lr, int64_t warmup, int64_t total, double min_lr);

  // The learning rate for optimizer step `step` (>= 0, else an Error).
  double lr_at(int64_t step) const;

  LrDecay decay() const { return decay_; }
  double peak_lr() const { return lr_; }
  double min_lr() const { return min_lr_; }
  int64_t warmup() const { return warmup_; }
  int64_t total() const { return total_; }
  std::string str() const;  // e.g. "cosine(lr=0.0006, warmup=100, total=5000, min_lr=6e-05)"

 private:
  LrDecay decay_;
  double lr_, min_lr_;
  int64_t warmup_, total_;
};

}  // namespace xfmr
