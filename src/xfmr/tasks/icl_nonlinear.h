// Non-linear function classes for in-context learning (Garg et al. 2022, §4 and App. A.3): random decision
// trees and random 2-layer ReLU networks. Same conventions as sample_icl_linear (icl_linear.h): x ~ N(0, I_d)
// [B, n, d] f32 with coordinates >= active_dims zeroed (the curriculum's subspace), y [B, n] f32 computed in
// double, random tensors drawn at full size in a fixed order. IclBatch::w is [B, d] zeros (no weight vector);
// the function's parameters can be returned through the optional out-pointer.
#pragma once
#include <cstdint>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

// A batch of complete binary trees of depth D, as in Garg et al.'s DecisionTree task: internal node t
// (0-based, heap order, children 2t+1 and 2t+2) tests x[feature[t]] > 0 (threshold 0) and goes right if so;
// leaf l (l = node − (2^D − 1)) outputs leaf[l] ~ N(0, 1).
struct IclTrees {
  int64_t depth = 0;
  Tensor feature;  // [B, 2^D − 1] i64, uniform over the active coordinates
  Tensor leaf;     // [B, 2^D] f32
};

// Decision-tree prompts: y = tree_p(x). Draw order: x [B, n, d], leaf [B, 2^D], then feature[p, t] by scalar
// draws (uniform in [0, active_dims); Garg et al. draw from all d coordinates, which under their curriculum
// lets a node test a zeroed coordinate — here every node tests a visible one). Needs active_dims >= 1.
IclBatch sample_icl_decision_tree(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, int64_t depth,
                                  Generator& gen, IclTrees* trees = nullptr);

// Evaluates tree p of `trees` at x [d].
double eval_icl_tree(const IclTrees& trees, int64_t p, const float* x);

// A batch of 2-layer ReLU networks, Garg et al.'s Relu2nnRegression: f(x) = Σ_i a_i relu(w_i·x) with
// w_i ~ N(0, I_d) and a_i ~ N(0, 2/hidden) (so E[f(x)²] = d for x ~ N(0, I_d), the scale of linear prompts).
struct IclReluNets {
  Tensor w1;  // [B, d, hidden] f32 (column i is w_i)
  Tensor a;   // [B, hidden] f32, already scaled by sqrt(2/hidden)
};

// ReLU-network prompts. Draw order: x [B, n, d], w1 [B, d, hidden], a [B, hidden].
IclBatch sample_icl_relu2nn(int64_t batch, int64_t n_points, int64_t d, int64_t active_dims, int64_t hidden,
                            Generator& gen, IclReluNets* nets = nullptr);

}  // namespace xfmr
