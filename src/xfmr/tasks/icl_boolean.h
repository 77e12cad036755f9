// Boolean function classes for in-context learning (Bhattamishra, Patel, Blunsom, Kanade 2023, "Understanding
// In-Context Learning in Transformers and LLMs by Learning to Learn Discrete Functions", arXiv:2310.03016, §3 and
// App. C). Inputs and labels are ±1, as in the paper's code: bit b ∈ {0, 1} is stored as 2b − 1, so x ∈ {±1}ⁿ
// (n = d) and y ∈ {±1} (+1 = true). Coordinates >= active_dims are zero (the curriculum's subspace, as for the
// regression classes) and the sampled function reads only the active coordinates.
//
// Sampling follows the paper's code (its bool_tasks.py), which biases x for the formula classes so the rarer
// label is not vanishingly rare:
//   conjunction        each variable is a positive literal w.p. 0.15, a negated one w.p. 0.15; x uniform, then
//                      w.p. plant_rate (0.3) per point the literals are set to satisfy the conjunction.
//   disjunction        the same literals; w.p. plant_rate (0.3) per point they are set to falsify it.
//   sparse_disjunction n_relevant (4) distinct positive literals; falsifying plant as for disjunction.
//   dnf                n_clauses (3) terms, each variable a positive / negated literal w.p. 0.1 / 0.1; one term
//                      per prompt is planted (satisfied) w.p. plant_rate (0.35) per point. y = OR of terms.
//   cnf                n_clauses (3) clauses, literals w.p. 0.1 / 0.1; one clause per prompt is falsified w.p.
//                      plant_rate (0.3) per point. y = AND of clauses.
//   sparse_parity      n_relevant (2) distinct bits; y = +1 iff an odd number of them are 1; x uniform.
//   parity             a uniform subset of all n bits (each bit w.p. 1/2; the empty subset gives y = −1).
//   majority           y = +1 iff more than half of the n bits are 1 (ties give −1); x uniform.
//   sparse_majority    the paper's "majority": each bit in the voting set w.p. 0.3; y = sign(Σ_S x_i − 0.5).
//   int_halfspace      w uniform in {−3..3}ⁿ, y = sign(w·x − 0.5); x uniform.
//   nearest_neighbour  x uniform; the first nn_random_points labels are uniform ±1 (a repeated x copies its
//                      earlier label); every later label is the label of the most cosine-similar earlier point
//                      (ties: the earliest).
// Teaching sequences (teaching = true; §5): the paper's sets prepended at the start of the prompt, then the
// class's ordinary points. conjunction: 2 positives (irrelevant bits all 0 / all 1) and one negative per literal
// (that literal flipped), k + 2 points (Goldman & Kearns); disjunction: its De Morgan dual (2 negatives, one
// positive per literal); dnf: the paper's monotone 3-DNF variant (terms of positive literals w.p. 0.2 each)
// with, per term, the minimal positive point and one point per literal flipped. conjunction with teaching plants
// positives w.p. 0.4 as the paper's code does. A sequence longer than the prompt is cut at n_points.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

struct IclBooleanParams {
  std::string kind;              // one of icl_boolean_kinds()
  int64_t n_relevant = 0;        // sparse_parity, sparse_disjunction; 0 = the paper's value (2, 4)
  int64_t n_clauses = 3;         // dnf, cnf: terms / clauses
  double plant_rate = -1;        // conjunction, disjunction, sparse_disjunction, dnf, cnf; < 0 = the paper's
  bool teaching = false;         // prepend the class's teaching sequence
  int64_t nn_random_points = 10; // nearest_neighbour: randomly labelled prefix
};

// The Boolean classes, in --list order.
const std::vector<std::string>& icl_boolean_kinds();
bool icl_is_boolean_kind(const std::string& kind);
// True when the paper defines a teaching sequence for the class (conjunction, disjunction, dnf).
bool icl_boolean_has_teaching(const std::string& kind);
// The defaults resolved: n_relevant (2 for sparse_parity, 4 for sparse_disjunction), plant_rate.
int64_t icl_boolean_n_relevant(const IclBooleanParams& p);
double icl_boolean_plant_rate(const IclBooleanParams& p);

// Checks p for a prompt of d bits and n_points points; Error messages name the task.* key and the reason.
void validate_icl_boolean(const IclBooleanParams& p, int64_t d, int64_t n_points);

// One sampled function per prompt, for tests and baselines' oracles.
//   formula classes: literals [B, T, d] i32 in {−1, 0, +1} (+1: x_j, −1: ¬x_j), T terms (dnf, conjunction: T = 1)
//                    or clauses (cnf, disjunctions); parity classes: literals [B, 1, d] with the subset as +1;
//   threshold classes (majority, sparse_majority, int_halfspace): weights [B, d] f32, y = sign(w·x − 0.5).
struct IclBooleanFunctions {
  std::string kind;
  Tensor literals;  // i32 or undefined
  Tensor weights;   // f32 or undefined
};

// Evaluates prompt p's function at x [d] (±1 or 0 entries): +1 or −1. Not for nearest_neighbour.
double eval_icl_boolean(const IclBooleanFunctions& f, int64_t p, const float* x);

// Samples `batch` prompts: xs [B, n, d] f32 in {−1, 0, +1}, ys [B, n] f32 in {±1}, w [B, d] f32 (the literal
// signs for one-term classes and parities, the weights for threshold classes, zeros otherwise). Deterministic
// for a given generator state. Needs active_dims >= 1.
IclBatch sample_icl_boolean(const IclBooleanParams& p, int64_t batch, int64_t n_points, int64_t d,
                            int64_t active_dims, Generator& gen, IclBooleanFunctions* functions = nullptr);

}  // namespace xfmr
