#include "xfmr/tasks/icl_boolean.h"

#include <algorithm>
#include <cmath>

#include "xfmr/core/check.h"

namespace xfmr {

namespace {

bool one_of(const std::string& k, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (k == n) return true;
  return false;
}

// Which formula a literal matrix stands for: terms ANDed then ORed (dnf, conjunction), clauses ORed then ANDed
// (cnf, disjunctions), or the parity of the marked bits.
enum class Form { dnf, cnf, parity, threshold, nn };

Form form_of(const std::string& k) {
  if (one_of(k, {"conjunction", "dnf"})) return Form::dnf;
  if (one_of(k, {"disjunction", "sparse_disjunction", "cnf"})) return Form::cnf;
  if (one_of(k, {"sparse_parity", "parity"})) return Form::parity;
  if (k == "nearest_neighbour") return Form::nn;
  return Form::threshold;
}

inline bool lit_true(int32_t lit, float x) { return lit > 0 ? x > 0.0f : x <= 0.0f; }

// One term (AND) or clause (OR) of literals lit [d] at x.
bool term_value(const int32_t* lit, int64_t d, const float* x) {
  for (int64_t j = 0; j < d; ++j)
    if (lit[j] != 0 && !lit_true(lit[j], x[j])) return false;
  return true;
}
bool clause_value(const int32_t* lit, int64_t d, const float* x) {
  for (int64_t j = 0; j < d; ++j)
    if (lit[j] != 0 && lit_true(lit[j], x[j])) return true;
  return false;
}

// x[0, active) uniform ±1 (64 bits per draw), x[active, d) = 0.
void uniform_bits(float* x, int64_t d, int64_t active, Generator& gen) {
  uint64_t r = 0;
  for (int64_t j = 0; j < active; ++j) {
    if (j % 64 == 0) r = gen.next_u64();
    x[j] = ((r >> (j % 64)) & 1) ? 1.0f : -1.0f;
  }
  for (int64_t j = active; j < d; ++j) x[j] = 0.0f;
}

// A literal per active variable: +1 w.p. p, −1 w.p. p (p_neg = 0 for monotone), else 0.
void random_literals(int32_t* lit, int64_t d, int64_t active, double p_pos, double p_neg, Generator& gen) {
  for (int64_t j = 0; j < d; ++j) {
    lit[j] = 0;
    if (j >= active) continue;
    const double u = gen.next_uniform();
    lit[j] = u < p_pos ? 1 : (u < p_pos + p_neg ? -1 : 0);
  }
}

// Sets x so every literal of `lit` is true (satisfy) or false.
void plant(const int32_t* lit, int64_t d, float* x, bool satisfy) {
  for (int64_t j = 0; j < d; ++j)
    if (lit[j] != 0) x[j] = (lit[j] > 0) == satisfy ? 1.0f : -1.0f;
}

// k distinct indices of [0, n) (partial Fisher–Yates).
void distinct_indices(int64_t n, int64_t k, std::vector<int64_t>& out, Generator& gen) {
  out.resize(n);
  for (int64_t i = 0; i < n; ++i) out[i] = i;
  for (int64_t i = 0; i < k; ++i) std::swap(out[i], out[i + gen.next_int(n - i)]);
  out.resize(k);
}

// The teaching sequence of a one-term formula (§5; Goldman & Kearns 1995): base points with every literal at
// `base` value and the irrelevant bits at −1 and +1, then one point per literal (positive literals first, then
// negated, in index order) with that literal flipped. Writes up to `room` rows; returns the rows written.
int64_t teach_one_term(const int32_t* lit, int64_t d, int64_t active, bool satisfy, float* xs, int64_t room) {
  int64_t rows = 0;
  auto base = [&](float* x, float irrelevant) {
    for (int64_t j = 0; j < d; ++j) x[j] = j < active ? irrelevant : 0.0f;
    plant(lit, d, x, satisfy);
  };
  for (float irr : {-1.0f, 1.0f}) {
    if (rows == room) return rows;
    base(xs + rows * d, irr);
    ++rows;
  }
  for (int sign : {1, -1})
    for (int64_t j = 0; j < d; ++j) {
      if (lit[j] != sign) continue;
      if (rows == room) return rows;
      float* x = xs + rows * d;
      base(x, -1.0f);
      x[j] = -x[j];
      ++rows;
    }
  return rows;
}

// The paper's monotone-DNF teaching sequence: per term, the point with the term's bits 1 and the rest 0, then
// that point with each of the term's bits set to 0 in turn.
int64_t teach_monotone_dnf(const int32_t* lits, int64_t terms, int64_t d, int64_t active, float* xs,
                           int64_t room) {
  int64_t rows = 0;
  for (int64_t t = 0; t < terms; ++t) {
    const int32_t* lit = lits + t * d;
    for (int64_t flip = -1; flip < d; ++flip) {
      if (flip >= 0 && lit[flip] == 0) continue;
      if (rows == room) return rows;
      float* x = xs + rows * d;
      for (int64_t j = 0; j < d; ++j) x[j] = j < active ? (lit[j] > 0 ? 1.0f : -1.0f) : 0.0f;
      if (flip >= 0) x[flip] = -1.0f;
      ++rows;
    }
  }
  return rows;
}

}  // namespace

const std::vector<std::string>& icl_boolean_kinds() {
  static const std::vector<std::string> k = {"conjunction",   "disjunction", "sparse_disjunction", "cnf",
                                             "dnf",           "sparse_parity", "parity",           "majority",
                                             "sparse_majority", "int_halfspace", "nearest_neighbour"};
  return k;
}

bool icl_is_boolean_kind(const std::string& kind) {
  const auto& k = icl_boolean_kinds();
  return std::find(k.begin(), k.end(), kind) != k.end();
}

bool icl_boolean_has_teaching(const std::string& kind) { return one_of(kind, {"conjunction", "disjunction", "dnf"}); }

int64_t icl_boolean_n_relevant(const IclBooleanParams& p) {
  if (p.n_relevant > 0) return p.n_relevant;
  return p.kind == "sparse_disjunction" ? 4 : 2;  // the paper's code: SparseDisjunction k = 4, SparseParity k = 2
}

double icl_boolean_plant_rate(const IclBooleanParams& p) {
  if (p.plant_rate >= 0) return p.plant_rate;
  if (p.kind == "dnf") return 0.35;
  if (p.kind == "conjunction" && p.teaching) return 0.4;
  return 0.3;
}

void validate_icl_boolean(const IclBooleanParams& p, int64_t d, int64_t n_points) {
  XF_CHECK(icl_is_boolean_kind(p.kind), "validate_icl_boolean: '", p.kind, "' is not a Boolean class");
  if (one_of(p.kind, {"sparse_parity", "sparse_disjunction"})) {
    const int64_t k = icl_boolean_n_relevant(p);
    XF_CHECK(k >= 1 && k <= d, "task.n_relevant must be in [1, d = ", d, "] for task.kind=", p.kind,
             " (the function reads that many distinct bits of x), got ", k);
  }
  XF_CHECK(p.n_relevant >= 0, "task.n_relevant must be >= 0 (0 = the paper's value), got ", p.n_relevant);
  if (one_of(p.kind, {"dnf", "cnf"}))
    XF_CHECK(p.n_clauses >= 1 && p.n_clauses <= 64, "task.n_clauses must be in [1, 64] for task.kind=", p.kind,
             ", got ", p.n_clauses);
  XF_CHECK(p.plant_rate < 0 || (p.plant_rate <= 1 && std::isfinite(p.plant_rate)),
           "task.plant_rate must be in [0, 1] (or negative for the paper's rate), got ", p.plant_rate);
  if (p.teaching) {
    XF_CHECK(icl_boolean_has_teaching(p.kind), "task.teaching=true: task.kind=", p.kind,
             " has no teaching sequence in Bhattamishra et al. 2023 (defined for conjunction, disjunction, dnf)");
    if (p.kind != "dnf")
      XF_CHECK(n_points >= d + 2, "task.n_points must be >= d + 2 = ", d + 2, " for task.teaching with task.kind=",
               p.kind, " (a conjunction's teaching sequence has up to d + 2 points), got ", n_points);
  }
  if (p.kind == "nearest_neighbour")
    XF_CHECK(p.nn_random_points >= 1 && p.nn_random_points <= n_points,
             "task.nn_random_points must be in [1, n_points = ", n_points, "] (the randomly labelled prefix), got ",
             p.nn_random_points);
}

double eval_icl_boolean(const IclBooleanFunctions& f, int64_t p, const float* x) {
  const Form form = form_of(f.kind);
  XF_CHECK(form != Form::nn, "eval_icl_boolean: nearest_neighbour labels depend on the prompt, not on x alone");
  if (form == Form::threshold) {
    const int64_t d = f.weights.size(1);
    const float* w = f.weights.data<float>() + p * d;
    double s = 0;
    for (int64_t j = 0; j < d; ++j) s += static_cast<double>(w[j]) * x[j];
    return s - 0.5 > 0 ? 1.0 : -1.0;
  }
  const int64_t T = f.literals.size(1), d = f.literals.size(2);
  const int32_t* lit = f.literals.data<int32_t>() + p * T * d;
  if (form == Form::parity) {
    int64_t ones = 0;
    for (int64_t j = 0; j < d; ++j) ones += lit[j] != 0 && x[j] > 0.0f;
    return ones % 2 == 1 ? 1.0 : -1.0;
  }
  if (form == Form::dnf) {
    for (int64_t t = 0; t < T; ++t)
      if (term_value(lit + t * d, d, x)) return 1.0;
    return -1.0;
  }
  for (int64_t t = 0; t < T; ++t)
    if (!clause_value(lit + t * d, d, x)) return -1.0;
  return 1.0;
}

IclBatch sample_icl_boolean(const IclBooleanParams& p, int64_t batch, int64_t n_points, int64_t d,
                            int64_t active_dims, Generator& gen, IclBooleanFunctions* functions) {
  XF_CHECK(batch > 0 && n_points > 0 && d > 0, "sample_icl_boolean: batch, n_points and d must be positive, got B=",
           batch, " n=", n_points, " d=", d);
  XF_CHECK(active_dims >= 1 && active_dims <= d, "sample_icl_boolean: active_dims ", active_dims,
           " outside [1, d=", d, "]");
  XF_CHECK(icl_is_boolean_kind(p.kind), "sample_icl_boolean: unknown Boolean class '", p.kind, "'");
  const std::string& kind = p.kind;
  const Form form = form_of(kind);
  const int64_t a = active_dims;
  const double rate = icl_boolean_plant_rate(p);
  const bool mono_teach_dnf = kind == "dnf" && p.teaching;

  IclBooleanFunctions f;
  f.kind = kind;
  const int64_t T = (kind == "dnf" || kind == "cnf") ? p.n_clauses : 1;
  if (form == Form::threshold) {
    f.weights = Tensor::zeros({batch, d}, DType::f32);
  } else if (form != Form::nn) {
    f.literals = Tensor::zeros({batch, T, d}, DType::i32);
  }
  IclBatch b;
  b.xs = Tensor::empty({batch, n_points, d}, DType::f32);
  b.ys = Tensor::empty({batch, n_points}, DType::f32);
  b.w = Tensor::zeros({batch, d}, DType::f32);
  float* xs = b.xs.data<float>();
  float* ys = b.ys.data<float>();
  float* wout = b.w.data<float>();
  std::vector<int64_t> idx;

  for (int64_t q = 0; q < batch; ++q) {
    float* xq = xs + q * n_points * d;
    float* yq = ys + q * n_points;
    int32_t* lit = f.literals.defined() ? f.literals.data<int32_t>() + q * T * d : nullptr;
    float* wq = f.weights.defined() ? f.weights.data<float>() + q * d : nullptr;

    // 1. The function.
    if (kind == "conjunction" || kind == "disjunction") {
      random_literals(lit, d, a, 0.15, 0.15, gen);
    } else if (kind == "dnf" || kind == "cnf") {
      for (int64_t t = 0; t < T; ++t)
        random_literals(lit + t * d, d, a, mono_teach_dnf ? 0.2 : 0.1, mono_teach_dnf ? 0.0 : 0.1, gen);
    } else if (kind == "sparse_disjunction" || kind == "sparse_parity") {
      distinct_indices(a, std::min(icl_boolean_n_relevant(p), a), idx, gen);
      for (int64_t j : idx) lit[j] = 1;
    } else if (kind == "parity") {
      for (int64_t j = 0; j < a; ++j) lit[j] = gen.next_uniform() < 0.5 ? 1 : 0;
    } else if (kind == "majority") {
      for (int64_t j = 0; j < a; ++j) wq[j] = 1.0f;
    } else if (kind == "sparse_majority") {
      for (int64_t j = 0; j < a; ++j) wq[j] = gen.next_uniform() < 0.3 ? 1.0f : 0.0f;
    } else if (kind == "int_halfspace") {
      for (int64_t j = 0; j < a; ++j) wq[j] = static_cast<float>(gen.next_int(7) - 3);
    }
    if (lit && T == 1)
      for (int64_t j = 0; j < d; ++j) wout[q * d + j] = static_cast<float>(lit[j]);
    if (wq) std::copy(wq, wq + d, wout + q * d);

    // 2. The points: uniform bits, then the paper's planting for the formula classes.
    const int64_t planted_term = (kind == "dnf" || kind == "cnf") ? gen.next_int(T) : 0;
    for (int64_t i = 0; i < n_points; ++i) {
      float* x = xq + i * d;
      uniform_bits(x, d, a, gen);
      if (form == Form::dnf || form == Form::cnf) {
        if (gen.next_uniform() < rate) plant(lit + planted_term * d, d, x, form == Form::dnf);
      }
    }
    // 3. The teaching sequence, over the first points.
    if (p.teaching) {
      if (mono_teach_dnf)
        teach_monotone_dnf(lit, T, d, a, xq, n_points);
      else
        teach_one_term(lit, d, a, kind == "conjunction", xq, n_points);
    }
    // 4. The labels.
    if (form == Form::nn) {
      const int64_t m = std::min(p.nn_random_points, n_points);
      for (int64_t i = 0; i < n_points; ++i) {
        const float* x = xq + i * d;
        int64_t best = -1;
        double best_dot = -1e300;
        for (int64_t e = 0; e < i; ++e) {
          double s = 0;
          for (int64_t j = 0; j < d; ++j) s += static_cast<double>(x[j]) * xq[e * d + j];
          if (s > best_dot) best_dot = s, best = e;  // strict: ties keep the earliest
        }
        if (i < m) {
          const float coin = (gen.next_u64() & 1) ? 1.0f : -1.0f;
          // A repeat of an earlier point keeps its label (the same x cannot carry two labels).
          yq[i] = best >= 0 && best_dot >= static_cast<double>(a) ? yq[best] : coin;
        } else {
          yq[i] = yq[best];
        }
      }
    } else {
      for (int64_t i = 0; i < n_points; ++i) yq[i] = static_cast<float>(eval_icl_boolean(f, q, xq + i * d));
    }
  }
  if (functions) *functions = f;
  return b;
}

}  // namespace xfmr
