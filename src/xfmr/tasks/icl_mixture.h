// Training on a mixture of function classes (Yadlowsky, Doshi & Tripuraneni 2023, "Pretraining Data Mixtures
// Enable Narrow Model Selection Capabilities in Transformer Models", arXiv:2311.00871, §2–3): each prompt is
// drawn from one class of the mixture, chosen independently per prompt with the mixture's weights, so a model
// trained on it must identify the class from the context before it can predict.
//
// Spec (task.mixture): "kind:weight,kind:weight,...", e.g. "linear:0.5,relu2nn:0.5". Kinds are registry classes
// (tasks/icl_tasks.h) other than "mixture"; each appears once; weights are finite and > 0 and are normalised to
// sum to 1. Every component reads the same task.* parameters (task.hidden for relu2nn, task.sparsity, ...).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "xfmr/core/rng.h"
#include "xfmr/tasks/icl_linear.h"

namespace xfmr {

struct IclTaskParams;

struct IclMixtureComponent {
  std::string kind;
  double weight = 0;  // normalised: the weights of a parsed spec sum to 1
};

// Parses and validates a spec; Error "task.mixture: ..." naming the bad entry and the reason.
std::vector<IclMixtureComponent> parse_icl_mixture(const std::string& spec);

// Samples `batch` prompts of p.mixture: first one uniform draw per prompt picks its component (inverse CDF of the
// weights), then every component in spec order samples all of its prompts in one call of sample_icl_task (with
// p's parameters and kind = the component), and the rows are placed at their prompts' positions.
IclBatch sample_icl_mixture(const IclTaskParams& p, int64_t batch, int64_t n_points, int64_t d, int64_t active_dims,
                            Generator& gen, std::vector<int64_t>* component_of_prompt = nullptr);

}  // namespace xfmr
