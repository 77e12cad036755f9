#include "xfmr/nn/module.h"

#include <algorithm>

#include "xfmr/core/autograd.h"
#include "xfmr/core/check.h"

namespace xfmr {

namespace {
// True when `target` is `m` or lies anywhere below it.
bool subtree_contains(const Module& m, const Module* target) {
  if (&m == target) return true;
  for (const auto& [name, child] : m.children())
    if (subtree_contains(*child, target)) return true;
  return false;
}
}  // namespace

bool Module::name_taken(const std::string& name) const {
  for (const Param& p : params_)
    if (p.name == name) return true;
  for (const auto& c : children_)
    if (c.first == name) return true;
  return false;
}

void Module::check_name(const std::string& name, const char* what) const {
  XF_CHECK(!name.empty(), what, ": empty name");
  XF_CHECK(name.find('.') == std::string::npos, what, ": name '", name,
           "' contains '.' (dots separate the levels of a dotted path)");
  XF_CHECK(!name_taken(name), what, ": duplicate name '", name,
           "' (already a parameter or child of this module)");
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool decay) {
  check_name(name, "register_parameter");
  XF_CHECK(t.defined(), "register_parameter: '", name, "' is an undefined tensor");
  XF_CHECK(dtype_is_float(t.dtype()), "register_parameter: '", name, "' has dtype ", dtype_name(t.dtype()),
           " (parameters are floating point)");
  XF_CHECK(t.is_leaf(), "register_parameter: '", name, "' is not a leaf (it was produced by ",
           grad_fn_name(t.grad_fn()), "); pass a fresh tensor or detach() it");
  t.set_requires_grad(true);
  params_.push_back({name, std::move(t), decay});
  return params_.back().tensor;
}

void Module::register_module(const std::string& name, Module& child) {
  check_name(name, "register_module");
  XF_CHECK(!subtree_contains(child, this), "register_module: '", name,
           "' would make a cycle (the child is this module or one of its ancestors)");
  children_.emplace_back(name, &child);
}

void Module::visit_impl(const std::string& prefix, std::vector<const TensorImpl*>& seen,
                        const std::function<void(const std::string&, const Tensor&, bool)>& fn) const {
  for (const Param& p : params_) {
    const TensorImpl* id = p.tensor.impl();
    if (std::find(seen.begin(), seen.end(), id) != seen.end()) continue;  // tied: keep the first name
    seen.push_back(id);
    fn(prefix + p.name, p.tensor, p.decay);
  }
  for (const auto& [name, child] : children_) child->visit_impl(prefix + name + ".", seen, fn);
}

void Module::visit_parameters(const std::function<void(const std::string&, const Tensor&, bool)>& fn) const {
  std::vector<const TensorImpl*> seen;
  visit_impl("", seen, fn);
}

std::vector<NamedParameter> Module::named_parameters() const {
  std::vector<NamedParameter> out;
  visit_parameters([&](const std::string& n, const Tensor& t, bool decay) { out.push_back({n, t, decay}); });
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  visit_parameters([&](const std::string&, const Tensor& t, bool) { out.push_back(t); });
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  visit_parameters([&](const std::string&, const Tensor& t, bool) { n += t.numel(); });
  return n;
}

// Walks the tree directly (no names, no std::function) so that it allocates nothing inside a training step.
// A tied tensor is zeroed once per name, which is harmless.
void Module::zero_grad() {
  for (Param& p : params_) p.tensor.zero_grad();
  for (auto& c : children_) c.second->zero_grad();
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

}  // namespace xfmr
