#include "xfmr/train/schedule.h"

#include <cmath>
#include <numbers>
#include <sstream>

#include "xfmr/core/check.h"

namespace xfmr {

namespace {
const char* decay_name(LrDecay d) {
  switch (d) {
    case LrDecay::constant:
      return "constant";
    case LrDecay::cosine:
      return "cosine";
    case LrDecay::linear:
      return "linear";
  }
  return "?";
}
}  // namespace

LrSchedule::LrSchedule(LrDecay decay, double lr, int64_t warmup, int64_t total, double min_lr)
    : decay_(decay), lr_(lr), min_lr_(min_lr), warmup_(warmup), total_(total) {
  const char* n = decay_name(decay);
  XF_CHECK(std::isfinite(lr) && lr >= 0, "lr schedule (", n, "): lr must be a finite value >= 0, got ", lr);
  XF_CHECK(warmup >= 0, "lr schedule (", n, "): warmup must be >= 0, got ", warmup);
  if (decay == LrDecay::constant) {
    total_ = 0;
    min_lr_ = lr;
    return;
  }
  XF_CHECK(total > 0, "lr schedule (", n, "): total steps must be > 0, got ", total);
  XF_CHECK(warmup <= total, "lr schedule (", n, "): warmup (", warmup, ") exceeds total steps (", total, ")");
  XF_CHECK(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= lr, "lr schedule (", n,
           "): min_lr must be in [0, lr] = [0, ", lr, "], got ", min_lr);
}

LrSchedule LrSchedule::constant(double lr, int64_t warmup) {
  return {LrDecay::constant, lr, warmup, 0, lr};
}
LrSchedule LrSchedule::cosine(double lr, int64_t warmup, int64_t total, double min_lr) {
  return {LrDecay::cosine, lr, warmup, total, min_lr};
}
LrSchedule LrSchedule::linear(double lr, int64_t warmup, int64_t total, double min_lr) {
  return {LrDecay::linear, lr, warmup, total, min_lr};
}

double LrSchedule::lr_at(int64_t step) const {
  XF_CHECK(step >= 0, "lr schedule: step must be >= 0, got ", step);
  if (step < warmup_) return lr_ * static_cast<double>(step + 1) / static_cast<double>(warmup_);
  if (decay_ == LrDecay::constant) return lr_;
  if (step >= total_) return min_lr_;
  // warmup <= step < total, so total > warmup here and r is in [0, 1).
  const double r = static_cast<double>(step - warmup_) / static_cast<double>(total_ - warmup_);
  if (decay_ == LrDecay::cosine)
    return min_lr_ + (lr_ - min_lr_) * 0.5 * (1.0 + std::cos(std::numbers::pi * r));
  return lr_ + (min_lr_ - lr_) * r;
}

std::string LrSchedule::str() const {
  std::ostringstream os;
  os << decay_name(decay_) << "(lr=" << lr_ << ", warmup=" << warmup_;
  if (decay_ != LrDecay::constant) os << ", total=" << total_ << ", min_lr=" << min_lr_;
  os << ")";
  return os.str();
}

}  // namespace xfmr
